// ESC/POS bytes, decoded: each command by name and the text between them read as Shift_JIS,
// one printed line per row.

import { h, formatBytes } from '../../lib/dom.js';

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

export function escPosView(buffer) {
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
