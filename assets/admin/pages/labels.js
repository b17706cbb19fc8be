// Labels: pick a template, edit its JSON data with a live preview (HTML, plain text and the
// ESC/POS bytes decoded), download the PDF, print or dry-run, and read the print log.
//
// API: GET /v1/labels/templates, GET /v1/labels/printers, POST /v1/labels/render?format=html|text|escpos|pdf,
// POST /v1/print-jobs, GET /v1/print-jobs, GET /v1/print-jobs/{id}/preview.

import { api, ApiError } from '../lib/api.js';
import { h, mount, toast, problemBox, formatTime, formatBytes, poll } from '../lib/dom.js';
import { labelsFromHtml } from './labels/html.js';
import { escPosView } from './labels/escpos.js';

const DEBOUNCE_MS = 300;
const LOG_PAGE = 20;

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

    const printerInput = h('input#label-printer', { type: 'text', autocomplete: 'off', list: 'label-printer-names', placeholder: 'e.g. dock', 'data-testid': 'label-printer' });
    const printerNames = h('datalist#label-printer-names');
    const dryRun = h('input#label-dry-run', { type: 'checkbox', checked: true, 'data-testid': 'label-dry-run', onchange: () => syncPrintButton() });
    const printButton = h('button#label-print', { type: 'submit', 'data-testid': 'label-print' }, 'Dry run');
    const printResult = h('div.labels-print-result', { 'aria-live': 'polite' });
    const printForm = h('form.labels-print', {
      onsubmit: (event) => { event.preventDefault(); sendPrint(); },
    },
    h('div.row',
      h('label', { for: 'label-printer' }, 'Printer'),
      printerInput,
      printerNames),
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
    api('/v1/labels/printers').then((answer) => {
      const names = answer.items ?? [];
      mount(printerNames, names.map((name) => h('option', { value: name })));
      printerInput.placeholder = names.length ? names.join(', ') : 'no printers configured: dry runs only';
    }).catch(() => {});

    return () => {
      state.disposed = true;
      clearTimeout(state.timer);
      if (state.stopLogPoll) state.stopLogPoll();
    };
  },
};
