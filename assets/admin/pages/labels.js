// Labels: pick a template, edit its JSON data with a live preview (HTML, plain text and the
// ESC/POS bytes decoded), download the PDF, print or dry-run, and read the print log.
//
// API: GET /v1/labels/templates, POST /v1/labels/render?format=html|text|escpos|pdf,
// POST /v1/print-jobs, GET /v1/print-jobs, GET /v1/print-jobs/{id}/preview.
//
// The HTML the server renders is a whole document with an inline <style> and style="…"
// attributes, which the console's CSP refuses. So it is parsed with DOMParser (inert: nothing
// in it runs or loads), and rebuilt element by element from a short list of the tags and
// attributes the label renderer writes; its custom properties (--columns, --width, …) are set
// through the CSSOM, and its stylesheet (assets/labels.css) is adopted as a constructed
// stylesheet, which CSP does not govern. No markup from the server is ever inserted as markup.

import { api, ApiError } from '../lib/api.js';
import { h, mount, toast, problemBox, formatTime, formatBytes, poll } from '../lib/dom.js';

const DEBOUNCE_MS = 300;
const LOG_PAGE = 20;

// ---- The label HTML, rebuilt ------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';
const HTML_TAGS = new Set(['div', 'p', 'strong', 'b', 'em', 'span', 'hr', 'figure', 'br']);
const SVG_TAGS = new Set(['svg', 'path', 'title', 'g', 'rect']);
const ATTRS = new Set(['class', 'data-width-dots', 'role', 'aria-label', 'viewBox', 'shape-rendering', 'd', 'x', 'y', 'width', 'height']);
const STYLE_PROPS = new Set(['--columns', '--width', '--w', '--h', '--cols', 'width', 'height']);
const STYLE_VALUE = /^-?[0-9.]+(mm|px|em|ch)?$/;

let labelSheetAdopted = false;

/** Adopts the labels stylesheet (every rule scoped under .sous-label) once per page load. */
function adoptLabelStyles(cssText) {
  if (labelSheetAdopted || !cssText || !('adoptedStyleSheets' in document)) return;
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(cssText);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    labelSheetAdopted = true;
  } catch (error) {
    console.warn('labels stylesheet not adopted', error);
  }
}

function copyStyle(from, to) {
  const style = from.getAttribute('data-style');
  if (!style) return;
  for (const declaration of style.split(';')) {
    const at = declaration.indexOf(':');
    if (at < 0) continue;
    const prop = declaration.slice(0, at).trim();
    const value = declaration.slice(at + 1).trim();
    if (STYLE_PROPS.has(prop) && STYLE_VALUE.test(value)) to.style.setProperty(prop, value);
  }
}

function rebuild(node) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.data);
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const isSvg = node.namespaceURI === SVG_NS;
  const tag = node.localName;
  if (isSvg ? !SVG_TAGS.has(tag) : !HTML_TAGS.has(tag)) return null;
  const el = isSvg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const attr of node.attributes) {
    if (ATTRS.has(attr.name)) el.setAttribute(attr.name, attr.value);
  }
  copyStyle(node, el);
  for (const child of node.childNodes) {
    const copy = rebuild(child);
    if (copy) el.append(copy);
  }
  return el;
}

/** The labels of a rendered HTML document, as safe DOM nodes. */
export function labelsFromHtml(html) {
  // A parsed document inherits the page's CSP, and parsing its <style> and style="…" would
  // log refusals: take the stylesheet out first, and rename the attribute (the renderer
  // escapes " in text, so ` style="` only occurs inside tags).
  let css = '';
  const markup = html
    .replace(/<style>([\s\S]*?)<\/style>/g, (_, text) => { css += text; return ''; })
    .replace(/ style="/g, ' data-style="');
  adoptLabelStyles(css);
  const doc = new DOMParser().parseFromString(markup, 'text/html');
  return [...doc.querySelectorAll('.sous-label')].map(rebuild).filter(Boolean);
}

// ---- ESC/POS, decoded -------------------------------------------------------------------

const ESC = 0x1b;
const FS = 0x1c;
const GS = 0x1d;
const sjis = new TextDecoder('shift_jis');

function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(' ');
}

const ALIGN = ['left', 'center', 'right'];
const QR_LEVEL = { 48: 'L', 49: 'M', 50: 'Q', 51: 'H' };

/**
 * The bytes as a list of lines, each a list of tokens: {kind: 'cmd', name, detail, bytes} or
 * {kind: 'text', text, bytes}. A line ends at LF (or a cut).
 */
export function decodeEscPos(buffer) {
  const bytes = new Uint8Array(buffer);
  const lines = [];
  let line = [];
  let text = [];
  let japanese = false;
  let i = 0;
  const flushText = () => {
    if (!text.length) return;
    const raw = Uint8Array.from(text);
    let decoded = sjis.decode(raw);
    // Under ESC R 8 the printer draws the single bytes 5C and 7E as ¥ and ‾; the renderer
    // folds \ and ~ to full width, so single-byte 5C and 7E only come from ¥ and ‾.
    if (japanese) decoded = decoded.replace(/\\/g, '¥').replace(/~/g, '‾');
    line.push({ kind: 'text', text: decoded, bytes: raw });
    text = [];
  };
  const endLine = () => {
    flushText();
    lines.push(line);
    line = [];
  };
  const cmd = (length, name, detail) => {
    flushText();
    const slice = bytes.slice(i, Math.min(bytes.length, i + length));
    line.push({ kind: 'cmd', name, detail, bytes: slice, truncated: i + length > bytes.length });
    i += length;
  };
  while (i < bytes.length) {
    const b = bytes[i];
    const n1 = bytes[i + 1];
    const n2 = bytes[i + 2];
    if (b === 0x0a) { flushText(); line.push({ kind: 'cmd', name: 'LF', detail: 'line feed', bytes: bytes.slice(i, i + 1) }); i++; endLine(); continue; }
    if (b === 0x0d) { cmd(1, 'CR', 'carriage return'); continue; }
    if (b === 0x09) { cmd(1, 'HT', 'horizontal tab'); continue; }
    if (b === ESC) {
      switch (n1) {
        case 0x40: cmd(2, 'ESC @', 'initialize the printer'); break;
        case 0x74: cmd(3, `ESC t ${n2}`, `character code table ${n2}${n2 === 1 ? ' (katakana)' : ''}`); break;
        case 0x52: japanese = n2 === 8; cmd(3, `ESC R ${n2}`, `international character set ${n2}${n2 === 8 ? ' (Japan: 5C is ¥)' : ''}`); break;
        case 0x45: cmd(3, `ESC E ${n2 & 1}`, (n2 & 1) ? 'bold on' : 'bold off'); break;
        case 0x47: cmd(3, `ESC G ${n2 & 1}`, (n2 & 1) ? 'double-strike on' : 'double-strike off'); break;
        case 0x2d: cmd(3, `ESC - ${n2}`, n2 ? `underline on (${n2} dot${n2 === 2 || n2 === 50 ? 's' : ''})` : 'underline off'); break;
        case 0x61: cmd(3, `ESC a ${n2}`, `align ${ALIGN[n2 % 48] ?? n2}`); break;
        case 0x21: cmd(3, `ESC ! ${n2}`, `print mode ${n2}`); break;
        case 0x64: cmd(3, `ESC d ${n2}`, `feed ${n2} lines`); break;
        case 0x4a: cmd(3, `ESC J ${n2}`, `feed ${n2} dots`); break;
        case 0x32: cmd(2, 'ESC 2', 'default line spacing'); break;
        case 0x33: cmd(3, `ESC 3 ${n2}`, `line spacing ${n2} dots`); break;
        case 0x4d: cmd(3, `ESC M ${n2}`, `font ${n2 & 1 ? 'B' : 'A'}`); break;
        case 0x7b: cmd(3, `ESC { ${n2}`, n2 & 1 ? 'upside down on' : 'upside down off'); break;
        default: cmd(2, `ESC ${n1 === undefined ? '' : hex([n1])}`, 'unknown command');
      }
      continue;
    }
    if (b === FS) {
      switch (n1) {
        case 0x43: cmd(3, `FS C ${n2}`, `kanji encoding ${n2 === 1 || n2 === 49 ? 'Shift_JIS' : n2 === 0 || n2 === 48 ? 'JIS' : n2}`); break;
        case 0x2d: cmd(3, `FS - ${n2}`, n2 ? 'kanji underline on' : 'kanji underline off'); break;
        case 0x26: cmd(2, 'FS &', 'kanji mode on'); break;
        case 0x2e: cmd(2, 'FS .', 'kanji mode off'); break;
        case 0x21: cmd(3, `FS ! ${n2}`, `kanji print mode ${n2}`); break;
        default: cmd(2, `FS ${n1 === undefined ? '' : hex([n1])}`, 'unknown command');
      }
      continue;
    }
    if (b === GS) {
      switch (n1) {
        case 0x21: {
          const w = (n2 >> 4) + 1;
          const hgt = (n2 & 0x0f) + 1;
          cmd(3, `GS ! ${n2}`, `character size ${w}×${hgt}${w === 1 && hgt === 1 ? ' (normal)' : ''}`);
          break;
        }
        case 0x42: cmd(3, `GS B ${n2 & 1}`, (n2 & 1) ? 'white on black on' : 'white on black off'); break;
        case 0x56: {
          const m = n2;
          const full = m === 0 || m === 48 || m === 65;
          if (m === 65 || m === 66) cmd(4, `GS V ${m} ${bytes[i + 3]}`, `feed and ${full ? 'full' : 'partial'} cut`);
          else cmd(3, `GS V ${m}`, `${full ? 'full' : 'partial'} cut`);
          endLine();
          break;
        }
        case 0x28: {
          // GS ( fn pL pH …: a function with a length; ( k is the 2D code.
          const fn = n2;
          const length = (bytes[i + 3] ?? 0) + ((bytes[i + 4] ?? 0) << 8);
          const total = 5 + length;
          if (fn === 0x6b) {
            const cn = bytes[i + 5];
            const code = bytes[i + 6];
            const arg = bytes[i + 7];
            let detail = 'QR code';
            if (cn === 49) {
              if (code === 65) detail = `QR: model ${arg === 50 ? 2 : arg === 49 ? 1 : arg}`;
              else if (code === 67) detail = `QR: module size ${arg} dots`;
              else if (code === 69) detail = `QR: error correction ${QR_LEVEL[arg] ?? arg}`;
              else if (code === 80) detail = `QR: store data “${new TextDecoder('latin1').decode(bytes.slice(i + 8, i + total))}”`;
              else if (code === 81) detail = 'QR: print the symbol';
            }
            cmd(total, `GS ( k ${String.fromCharCode(code ?? 63)}`, detail);
          } else {
            cmd(total, `GS ( ${String.fromCharCode(fn ?? 63)}`, `function with ${length} bytes`);
          }
          break;
        }
        case 0x76: {
          // GS v 0 m xL xH yL yH d…: a raster image, x bytes (8 dots each) by y rows.
          const x = (bytes[i + 4] ?? 0) + ((bytes[i + 5] ?? 0) << 8);
          const y = (bytes[i + 6] ?? 0) + ((bytes[i + 7] ?? 0) << 8);
          cmd(8 + x * y, 'GS v 0', `raster image ${x * 8}×${y} dots (${formatBytes(x * y)})`);
          break;
        }
        case 0x48: cmd(3, `GS H ${n2}`, 'barcode text position'); break;
        case 0x68: cmd(3, `GS h ${n2}`, `barcode height ${n2}`); break;
        case 0x77: cmd(3, `GS w ${n2}`, `barcode width ${n2}`); break;
        default: cmd(2, `GS ${n1 === undefined ? '' : hex([n1])}`, 'unknown command');
      }
      continue;
    }
    if (b < 0x20 || b === 0x7f) { cmd(1, hex([b]), 'control byte'); continue; }
    text.push(b);
    // A Shift_JIS lead byte takes its trail byte with it (trail bytes are never controls).
    if ((b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)) {
      if (i + 1 < bytes.length) text.push(bytes[i + 1]);
      i += 2;
    } else {
      i += 1;
    }
  }
  flushText();
  if (line.length) lines.push(line);
  return lines;
}

function escPosView(buffer) {
  const lines = decodeEscPos(buffer);
  const commands = lines.flat().filter((t) => t.kind === 'cmd' && t.name !== 'LF').length;
  return h('div.escpos', { 'data-testid': 'escpos-view' },
    h('p.muted.escpos-summary', `${formatBytes(buffer.byteLength)} · ${lines.length} lines · ${commands} commands`),
    h('ol.escpos-lines', lines.map((tokens) => h('li.escpos-line', tokens.map((t) => (t.kind === 'text'
      ? h('span.escpos-text', { title: hex(t.bytes) }, t.text)
      : h(`span.escpos-cmd${t.name === 'LF' ? '.escpos-lf' : ''}`, { title: `${t.detail}\n${hex(t.bytes.slice(0, 24))}${t.bytes.length > 24 ? ' …' : ''}` },
        h('code', t.name === 'LF' ? '↵' : t.name),
        t.name === 'LF' ? null : h('span.escpos-detail', t.detail))))))));
}

// ---- The page ---------------------------------------------------------------------------

function statusBadge(status) {
  const kind = { printed: 'ok', dry_run: '', queued: 'warn', printing: 'warn', failed: 'bad' }[status] ?? '';
  return h(`span.badge${kind ? `.${kind}` : ''}`, { 'data-testid': 'print-status' }, status.replace('_', ' '));
}

function substitutionList(substitutions) {
  if (!substitutions?.length) return null;
  return h('ul.labels-subs', substitutions.map((s) => h('li',
    h('span.labels-sub-char', s.original), ' → ',
    s.replacement ? h('span.labels-sub-char', s.replacement) : h('em', 'dropped'),
    h('span.muted', ` label ${s.label + 1}, `, h('code', s.path), `, character ${s.offset + 1}`))));
}

/** A JSON.parse error with its line and column when the engine gives a position. */
function jsonProblem(text, error) {
  const message = error.message ?? String(error);
  const match = /position (\d+)/.exec(message);
  if (!match) return message;
  const position = Number(match[1]);
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `${message.replace(/\s*\(line \d+ column \d+\)/, '')} (line ${line}, column ${column})`;
}

export default {
  async render(root, ctx) {
    const state = {
      templates: [],
      template: null,
      drafts: new Map(), // template name → edited text, so switching back keeps edits
      sequence: 0,
      timer: null,
      lastGood: null,
      log: [],
      logNext: null,
      disposed: false,
      stopLogPoll: null,
    };

    // ---- Elements --------------------------------------------------------------------
    const templateSelect = h('select#label-template', { 'data-testid': 'label-template', onchange: () => pickTemplate(templateSelect.value) });
    const templateDescription = h('p.muted.labels-description');
    const editor = h('textarea.code.labels-editor#label-data', {
      'data-testid': 'label-data',
      rows: 18,
      spellcheck: false,
      autocomplete: 'off',
      autocapitalize: 'off',
      'aria-describedby': 'label-data-status',
      oninput: () => { state.drafts.set(state.template?.name, editor.value); schedulePreview(); },
    });
    const editorStatus = h('div.labels-status#label-data-status', { 'data-testid': 'label-status', 'aria-live': 'polite' });
    const resetButton = h('button.secondary', { type: 'button', onclick: () => resetData() }, 'Reset to example');
    const formatButton = h('button.secondary', { type: 'button', onclick: () => formatJson() }, 'Format JSON');
    const pdfButton = h('button.secondary#label-pdf', { type: 'button', 'data-testid': 'label-pdf', onclick: () => downloadPdf() }, 'Download PDF');

    const printerInput = h('input#label-printer', { type: 'text', autocomplete: 'off', placeholder: 'e.g. dock', 'data-testid': 'label-printer' });
    const dryRun = h('input#label-dry-run', { type: 'checkbox', checked: true, 'data-testid': 'label-dry-run', onchange: () => syncPrintButton() });
    const printButton = h('button#label-print', { type: 'submit', 'data-testid': 'label-print' }, 'Dry run');
    const printResult = h('div.labels-print-result', { 'aria-live': 'polite' });
    const printForm = h('form.labels-print', {
      onsubmit: (event) => { event.preventDefault(); sendPrint(); },
    },
    h('div.row',
      h('label', { for: 'label-printer' }, 'Printer'),
      printerInput),
    h('label.labels-check', dryRun, ' Dry run: render and log only, print nothing'),
    h('div.row', printButton),
    printResult);

    const previewStatus = h('div.labels-preview-status', { 'aria-live': 'polite' });
    const htmlPreview = h('div.labels-html', { 'data-testid': 'label-html-preview' }, h('p.muted', 'Pick a template to see its label.'));
    const textPreview = h('pre.labels-text', { 'data-testid': 'label-text-preview' });
    const escposPreview = h('div.labels-escpos-wrap');
    const substitutionsNote = h('div.labels-subs-note', { 'data-testid': 'label-substitutions' });

    const logBox = h('div#print-log', { 'data-testid': 'print-log' }, h('p.loading', 'Loading…'));
    const logMore = h('div');

    mount(root,
      h('h1', 'Labels'),
      h('div.labels-layout',
        h('section.card.labels-edit', { 'aria-labelledby': 'labels-edit-title' },
          h('h2#labels-edit-title', 'Template and data'),
          h('div.row',
            h('label', { for: 'label-template' }, 'Template'),
            templateSelect),
          templateDescription,
          h('label', { for: 'label-data' }, 'Data (JSON)'),
          editor,
          editorStatus,
          h('div.row.labels-actions', resetButton, formatButton, pdfButton),
          h('h3', 'Print'),
          printForm),
        h('section.card.labels-preview', { 'aria-labelledby': 'labels-preview-title' },
          h('div.labels-preview-head',
            h('h2#labels-preview-title', 'Preview'),
            previewStatus),
          substitutionsNote,
          h('div.labels-pair',
            h('figure.labels-pane',
              h('figcaption', 'HTML'),
              htmlPreview),
            h('figure.labels-pane',
              h('figcaption', 'Plain text'),
              textPreview)),
          h('h3', 'ESC/POS, decoded'),
          escposPreview)),
      h('section.card', { 'aria-labelledby': 'labels-log-title' },
        h('div.labels-preview-head',
          h('h2#labels-log-title', 'Print log'),
          h('button.secondary', { type: 'button', onclick: () => loadLog() }, 'Refresh')),
        logBox,
        logMore));

    // ---- Templates and data ----------------------------------------------------------
    function pickTemplate(name) {
      state.template = state.templates.find((t) => t.name === name) ?? state.templates[0];
      if (!state.template) return;
      templateSelect.value = state.template.name;
      mount(templateDescription, state.template.description);
      editor.value = state.drafts.get(state.template.name) ?? JSON.stringify(state.template.example, null, 2);
      const params = new URLSearchParams({ template: state.template.name });
      history.replaceState(null, '', `#/labels?${params}`);
      state.lastGood = null;
      preview();
    }

    function resetData() {
      if (!state.template) return;
      state.drafts.delete(state.template.name);
      editor.value = JSON.stringify(state.template.example, null, 2);
      preview();
    }

    function formatJson() {
      try {
        editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
        state.drafts.set(state.template?.name, editor.value);
      } catch (error) {
        showEditorProblem(h('div.problem', { role: 'alert' }, h('strong', 'Not valid JSON'), h('p', jsonProblem(editor.value, error))));
      }
    }

    function parsedData() {
      return JSON.parse(editor.value);
    }

    function showEditorProblem(node) {
      mount(editorStatus, node);
      editor.setAttribute('aria-invalid', node ? 'true' : 'false');
      if (node) markStale();
    }

    function markStale() {
      if (state.lastGood) mount(previewStatus, h('span.badge.warn', { 'data-testid': 'label-stale' }, 'showing the last good preview'));
    }

    function schedulePreview() {
      clearTimeout(state.timer);
      mount(previewStatus, h('span.muted', 'Editing…'));
      state.timer = setTimeout(preview, DEBOUNCE_MS);
    }

    async function render(format, data, as) {
      return api(`/v1/labels/render?format=${format}`, {
        json: { template: state.template.name, data },
        as,
      });
    }

    async function preview() {
      clearTimeout(state.timer);
      if (!state.template) return;
      let data;
      try {
        data = parsedData();
      } catch (error) {
        showEditorProblem(h('div.problem', { role: 'alert', 'data-testid': 'label-json-error' },
          h('strong', 'Not valid JSON'), h('p', jsonProblem(editor.value, error))));
        return;
      }
      const sequence = ++state.sequence;
      mount(previewStatus, h('span.muted', 'Rendering…'));
      const started = performance.now();
      try {
        const [htmlResponse, text, escpos] = await Promise.all([
          render('html', data, 'response'),
          render('text', data, 'text'),
          render('escpos', data, 'blob').then((b) => b.arrayBuffer()),
        ]);
        const html = await htmlResponse.text();
        if (state.disposed || sequence !== state.sequence) return;
        const substitutions = Number(htmlResponse.headers.get('X-Label-Substitutions') ?? 0);
        const labels = labelsFromHtml(html);
        mount(htmlPreview, labels.length ? labels : h('p.muted', 'The label is empty.'));
        mount(textPreview, text);
        mount(escposPreview, escPosView(escpos));
        mount(substitutionsNote, substitutions
          ? h('p.labels-warning', { role: 'note' }, h('strong', `${substitutions} character${substitutions === 1 ? '' : 's'}`),
            ' cannot be printed as written and print as a substitute (', h('code', '〓'), ' or a close form). A dry run lists each one.')
          : null);
        state.lastGood = { html, text };
        showEditorProblem(null);
        mount(previewStatus, h('span.muted', { 'data-testid': 'label-rendered' }, `Rendered in ${Math.round(performance.now() - started)} ms`));
      } catch (error) {
        if (state.disposed || sequence !== state.sequence) return;
        showEditorProblem(problemBox(error));
        if (!state.lastGood) mount(previewStatus, h('span.badge.bad', 'no preview'));
      }
    }

    async function downloadPdf() {
      if (!state.template) return;
      let data;
      try { data = parsedData(); } catch (error) { toast(`Not valid JSON: ${error.message}`, 'error'); return; }
      pdfButton.disabled = true;
      const label = pdfButton.textContent;
      pdfButton.textContent = 'Rendering PDF…';
      try {
        const blob = await render('pdf', data, 'blob');
        const url = URL.createObjectURL(blob);
        const link = h('a', { href: url, download: `${state.template.name}.pdf` });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        toast(`PDF downloaded (${formatBytes(blob.size)})`, 'ok');
      } catch (error) {
        showEditorProblem(problemBox(error));
        toast(error.status === 503 ? 'No Japanese font on the server for PDFs' : `PDF failed: ${error.message}`, 'error');
      } finally {
        pdfButton.disabled = false;
        pdfButton.textContent = label;
      }
    }

    // ---- Printing --------------------------------------------------------------------
    function syncPrintButton() {
      printButton.textContent = dryRun.checked ? 'Dry run' : 'Print';
      printerInput.required = !dryRun.checked;
    }

    async function sendPrint() {
      if (!state.template) return;
      let data;
      try { data = parsedData(); } catch (error) { toast(`Not valid JSON: ${error.message}`, 'error'); return; }
      const printer = printerInput.value.trim();
      const body = { template: state.template.name, data, dry_run: dryRun.checked };
      if (printer) body.printer = printer;
      printButton.disabled = true;
      mount(printResult, h('p.muted', 'Sending…'));
      try {
        const job = await api('/v1/print-jobs', { json: body });
        mount(printResult, h('div.labels-print-ok', { 'data-testid': 'print-result' },
          h('p', statusBadge(job.status), ' ', job.dry_run ? 'Dry run logged' : `Sent to ${job.printer}`, ' · ',
            h('code', job.id)),
          job.substitutions?.length
            ? h('div.labels-warning', h('strong', `${job.substitutions.length} substitution${job.substitutions.length === 1 ? '' : 's'}:`), substitutionList(job.substitutions))
            : h('p.muted', 'Every character prints as written.')));
        await loadLog();
      } catch (error) {
        mount(printResult, problemBox(error));
      } finally {
        printButton.disabled = false;
      }
    }

    // ---- Print log -------------------------------------------------------------------
    async function showJobPreview(job, box, button) {
      if (box.childElementCount) {
        mount(box);
        button.setAttribute('aria-expanded', 'false');
        button.textContent = 'Show preview';
        return;
      }
      button.disabled = true;
      try {
        const html = await api(`/v1/print-jobs/${encodeURIComponent(job.id)}/preview`, { as: 'text' });
        const labels = labelsFromHtml(html);
        mount(box, h('div.labels-log-preview', labels.length ? labels : h('p.muted', 'No labels.')));
        button.setAttribute('aria-expanded', 'true');
        button.textContent = 'Hide preview';
      } catch (error) {
        mount(box, problemBox(error));
      } finally {
        button.disabled = false;
      }
    }

    function renderLogItem(job) {
      const previewBox = h('div.labels-log-preview-box');
      const previewButton = h('button.secondary', {
        type: 'button',
        'aria-expanded': 'false',
        onclick: () => showJobPreview(job, previewBox, previewButton),
      }, 'Show preview');
      return h('li.labels-log-item', { 'data-testid': 'print-log-item', dataset: { jobId: job.id } },
        h('div.labels-log-head',
          statusBadge(job.status),
          h('strong', job.dry_run ? (job.printer ? `dry run for ${job.printer}` : 'dry run') : job.printer ?? ''),
          h('span.muted', `${job.label_count} label${job.label_count === 1 ? '' : 's'}`),
          job.attempts ? h('span.muted', `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`) : null,
          h('span.muted', job.owner),
          h('time.muted', { datetime: job.created_at }, formatTime(job.created_at)),
          previewButton),
        job.error ? h('p.labels-log-error', job.error) : null,
        job.substitutions?.length
          ? h('details.labels-warning-details',
            h('summary', h('span.badge.warn', `${job.substitutions.length} substitution${job.substitutions.length === 1 ? '' : 's'}`)),
            substitutionList(job.substitutions))
          : null,
        previewBox);
    }

    function renderLog(error) {
      if (error) { mount(logBox, problemBox(error)); return; }
      mount(logBox, state.log.length
        ? h('ul.labels-log', state.log.map(renderLogItem))
        : h('p.muted', { 'data-testid': 'print-log-empty' }, 'Nothing printed yet. A dry run logs a label without printing it.'));
      mount(logMore, state.logNext
        ? h('button.secondary', { type: 'button', onclick: () => loadLog(true) }, 'Load more')
        : null);
      // Follow queued jobs until the printer answers.
      const pending = state.log.some((job) => job.status === 'queued' || job.status === 'printing');
      if (pending && !state.stopLogPoll) {
        let first = true;
        state.stopLogPoll = poll(async () => { if (first) { first = false; return; } await loadLog(false, true); }, 4000);
      } else if (!pending && state.stopLogPoll) {
        state.stopLogPoll();
        state.stopLogPoll = null;
      }
    }

    async function loadLog(more = false, quiet = false) {
      try {
        const params = new URLSearchParams({ limit: String(LOG_PAGE) });
        if (more && state.logNext) params.set('after', state.logNext);
        const page = await api(`/v1/print-jobs?${params}`);
        if (state.disposed) return;
        const items = more ? [...state.log, ...page.items] : page.items;
        const signature = (list) => list.map((job) => `${job.id}:${job.status}:${job.updated_at}`).join(',');
        // A quiet refresh re-renders only when something changed, so open previews stay open.
        if (quiet && signature(items) === signature(state.log)) return;
        state.log = items;
        state.logNext = page.next ?? null;
        renderLog();
      } catch (error) {
        if (!state.disposed) renderLog(error);
      }
    }

    // ---- Start -----------------------------------------------------------------------
    syncPrintButton();
    try {
      const answer = await api('/v1/labels/templates');
      state.templates = answer.items ?? [];
    } catch (error) {
      mount(htmlPreview, problemBox(error));
    }
    if (state.templates.length) {
      mount(templateSelect, state.templates.map((t) => h('option', { value: t.name }, t.name)));
      pickTemplate(ctx.params.get('template') ?? state.templates[0].name);
    } else {
      mount(templateSelect, h('option', { value: '' }, 'No templates'));
      templateSelect.disabled = true;
    }
    loadLog();

    return () => {
      state.disposed = true;
      clearTimeout(state.timer);
      if (state.stopLogPoll) state.stopLogPoll();
    };
  },
};
