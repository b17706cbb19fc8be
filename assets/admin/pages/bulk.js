// Bulk ingest: choose many images, zip them here in the browser (stored, not compressed: JPEG
// and PNG are compressed already), upload the ZIP to its signed URL with a progress bar, then
// watch each entry registered or refused. And a product CSV: import it (or only check it), see
// the report row by row, download the failed rows to fix them.

import { api, ApiError } from '../lib/api.js';
import { h, mount, toast, problemBox, formatBytes, formatTime, poll } from '../lib/dom.js';
import { Zip, ZipPassThrough } from '../vendor/fflate.js';

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/heic', 'image/heif'];
const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif|avif|heic|heif)$/i;
const ENTRY_PAGE = 500;
const POLL_MS = 1000;
const SHOWN_ERRORS = 200;

const ARCHIVE_CLASS = { waiting: 'plain', queued: 'warn', running: 'warn', done: 'ok', failed: 'bad' };
const ENTRY_CLASS = { registered: 'ok', refused: 'bad' };

function isImage(file) {
  return IMAGE_TYPES.includes(file.type) || IMAGE_EXTENSIONS.test(file.name);
}

/** Names as they go in the ZIP: the file's own, with " (2)" before the extension on a repeat. */
function zipNames(files) {
  const used = new Set();
  return files.map((file) => {
    let name = file.name;
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${stem} (${n})${ext}`;
    used.add(name.toLowerCase());
    return name;
  });
}

/**
 * A ZIP of `files`, every entry stored: a Blob, built file by file from streamed reads so a
 * thousand photos never sit in memory twice. onProgress(filesDone, bytesDone).
 */
async function zipFiles(files, onProgress) {
  const chunks = [];
  let failure = null;
  let finished;
  const done = new Promise((resolve) => { finished = resolve; });
  const zip = new Zip((error, chunk, final) => {
    if (error) { failure = error; finished(); return; }
    chunks.push(chunk);
    if (final) finished();
  });
  const names = zipNames(files);
  let bytes = 0;
  for (let i = 0; i < files.length && !failure; i++) {
    const file = files[i];
    const entry = new ZipPassThrough(names[i]);
    const modified = new Date(file.lastModified || Date.now());
    if (modified.getFullYear() >= 1980 && modified.getFullYear() < 2099) entry.mtime = modified;
    zip.add(entry);
    const reader = file.stream().getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      entry.push(value);
      bytes += value.length;
      onProgress(i, bytes);
    }
    entry.push(new Uint8Array(0), true);
    onProgress(i + 1, bytes);
  }
  zip.end();
  await done;
  if (failure) throw failure;
  return new Blob(chunks, { type: 'application/zip' });
}

/** PUTs `blob` to an upload ticket with XMLHttpRequest, for its progress events. */
function upload(ticket, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method || 'PUT', ticket.upload_url);
    for (const [name, value] of Object.entries(ticket.headers ?? {})) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : blob.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let problem = null;
      try { problem = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      reject(new ApiError(xhr.status, problem));
    });
    xhr.addEventListener('error', () => reject(new Error('the connection failed during the upload')));
    xhr.addEventListener('abort', () => reject(new Error('the upload was stopped')));
    xhr.send(blob);
  });
}

/** Saves a blob as a file through a short-lived link. */
function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a.mab-sr', { href: url, download: filename }, filename);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Thumbnails loaded as they come into view, a few at a time, each retried a few times: the
 * server renders a thumbnail on its first request, and turns requests away (503) when too many
 * renders wait, so a thousand at once would break most of them.
 */
function thumbLoader(parallel = 2, retries = 6) {
  const queue = [];
  let active = 0;
  const observer = new IntersectionObserver((seen) => {
    for (const entry of seen) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      queue.push(entry.target);
    }
    pump();
  }, { rootMargin: '200px' });
  function pump() {
    while (active < parallel && queue.length) {
      const img = queue.shift();
      if (!img.isConnected) continue;
      active++;
      let tries = 0;
      const done = () => { active--; pump(); };
      img.addEventListener('load', done, { once: true });
      img.addEventListener('error', () => {
        if (++tries > retries) return done();
        setTimeout(() => { img.src = img.dataset.src; }, 1000 * Math.min(2 ** (tries - 1), 8));
      });
      img.src = img.dataset.src;
    }
  }
  return {
    add(img) { observer.observe(img); },
    clear() { observer.disconnect(); queue.length = 0; },
    stop() { observer.disconnect(); queue.length = 0; },
  };
}

function stat(label, value, testid) {
  return h('div.bk-stat', h('span.bk-stat-value', { 'data-testid': testid }, String(value)), h('span.bk-stat-label', label));
}

export default {
  async render(root, ctx) {
    const stops = new Set();
    const cleanup = () => { for (const stop of stops) stop(); stops.clear(); };

    // ---- images → ZIP → upload ----------------------------------------------------------

    let chosen = [];
    let busy = false;
    const imageInput = h('input#bulk-image-input', {
      type: 'file', multiple: true, accept: 'image/*,.heic,.heif', 'data-testid': 'bulk-image-input',
      onchange: () => { choose([...imageInput.files]); },
    });
    const chosenInfo = h('div.bk-chosen', { 'aria-live': 'polite' });
    const uploadButton = h('button#bulk-upload', {
      type: 'button', disabled: true, 'data-testid': 'bulk-upload-button', onclick: () => zipAndUpload(),
    }, 'Zip and upload');
    const clearButton = h('button.secondary', {
      type: 'button', disabled: true, onclick: () => { imageInput.value = ''; choose([]); },
    }, 'Clear');
    const zipBar = h('progress', { max: 1, value: 0, 'aria-labelledby': 'bk-zip-label' });
    const zipLabel = h('span#bk-zip-label', 'Zipping');
    const upBar = h('progress', { max: 1, value: 0, 'aria-labelledby': 'bk-up-label', 'data-testid': 'bulk-upload-progress' });
    const upLabel = h('span#bk-up-label', 'Uploading');
    const progress = h('div.bk-progress', { hidden: true },
      h('div.bk-bar', zipLabel, zipBar),
      h('div.bk-bar', upLabel, upBar));
    const uploadError = h('div');
    const archiveSlot = h('div', { 'data-testid': 'bulk-archive' });

    const dropzone = h('div.dropzone.bk-drop',
      h('p.mab-drop-title', 'Drop product images here'),
      h('p.muted', 'JPEG, PNG, WebP, GIF, AVIF or HEIC; a thousand is fine.'),
      h('div.bk-choose', h('label', { for: 'bulk-image-input' }, 'Or choose images: '), imageInput));
    dropzone.addEventListener('dragover', (e) => { e.preventDefault(); dropzone.classList.add('over'); });
    dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
    dropzone.addEventListener('drop', (e) => {
      e.preventDefault();
      dropzone.classList.remove('over');
      choose([...(e.dataTransfer?.files ?? [])]);
    });

    function choose(files) {
      const images = files.filter(isImage);
      const others = files.length - images.length;
      chosen = images;
      const total = images.reduce((sum, f) => sum + f.size, 0);
      const names = zipNames(images);
      mount(chosenInfo,
        images.length
          ? [h('p', { 'data-testid': 'bulk-chosen-count' }, `${images.length} image${images.length === 1 ? '' : 's'}, ${formatBytes(total)}`),
            h('ul.bk-names', names.slice(0, 12).map((n) => h('li', n)),
              names.length > 12 ? h('li.muted', `and ${names.length - 12} more`) : null)]
          : h('p.muted', 'No images chosen.'),
        others ? h('p.bk-warn', `${others} file${others === 1 ? ' is' : 's are'} not an image and left out.`) : null);
      uploadButton.disabled = busy || !images.length;
      clearButton.disabled = busy || !images.length;
    }

    async function zipAndUpload() {
      if (!chosen.length || busy) return;
      busy = true;
      uploadButton.disabled = true;
      clearButton.disabled = true;
      imageInput.disabled = true;
      mount(uploadError);
      progress.hidden = false;
      const files = chosen;
      const total = files.reduce((sum, f) => sum + f.size, 0);
      zipBar.max = Math.max(total, 1); zipBar.value = 0;
      upBar.max = 1; upBar.value = 0;
      upLabel.textContent = 'Uploading';
      try {
        const blob = await zipFiles(files, (count, bytes) => {
          zipBar.value = bytes;
          zipLabel.textContent = `Zipping: ${count} of ${files.length} images, ${formatBytes(bytes)}`;
        });
        zipLabel.textContent = `Zipped ${files.length} images: ${formatBytes(blob.size)}`;
        const archive = await api('/v1/bulk/image-archives', { method: 'POST' });
        upBar.max = blob.size;
        await upload(archive.upload, blob, (loaded, of) => {
          upBar.max = of; upBar.value = loaded;
          upLabel.textContent = `Uploading: ${Math.floor((loaded / of) * 100)}\u00a0% (${formatBytes(loaded)} of ${formatBytes(of)})`;
        });
        upBar.value = upBar.max;
        upLabel.textContent = `Uploaded ${formatBytes(blob.size)}`;
        toast('Archive uploaded: registering its images');
        // This archive's thumbnails come from the files themselves: no server render for them.
        const names = zipNames(files);
        showArchive(archive.id, new Map(files.map((file, i) => [names[i], file])));
        refreshArchives();
      } catch (error) {
        mount(uploadError, problemBox(error));
      } finally {
        busy = false;
        imageInput.disabled = false;
        choose(chosen);
      }
    }

    // ---- one archive: status, counts and entries ---------------------------------------

    let stopArchive = null;
    const thumbs = thumbLoader();
    stops.add(thumbs.stop);

    /** Follows an archive: its head every poll, its entries page by page as they come. */
    /** `local`: the files of an archive uploaded from this page, by their name in it. */
    function showArchive(id, local = new Map()) {
      if (stopArchive) { stopArchive(); stops.delete(stopArchive); }
      thumbs.clear();
      revokeLocal();
      const path = `/v1/bulk/image-archives/${encodeURIComponent(id)}?limit=${ENTRY_PAGE}`;
      const entries = new Map(); // index → entry
      const rows = new Map(); // index → [entry, tr]
      const head = h('div');
      const tbody = h('tbody');
      const table = h('div.table-wrap', { hidden: true }, h('table.bk-entries',
        h('caption.mab-sr', 'Entries of the archive'),
        h('thead', h('tr', h('th.num', '#'), h('th', 'Image'), h('th', 'Name'), h('th', 'Result'))),
        tbody));
      const note = h('p.muted');
      const section = h('section.bk-archive', { 'aria-labelledby': 'bk-archive-title' }, head, table, note);
      mount(archiveSlot, h('p.loading', 'Loading the archive…'));
      let cursor = null; // `after` of the page being filled
      let finished = false;
      stopArchive = poll(async () => {
        if (finished) return;
        try {
          let archive = await api(cursor === null ? path : `${path}&after=${encodeURIComponent(cursor)}`);
          for (const e of archive.entries?.items ?? []) entries.set(e.index, e);
          // A full page: the next poll reads on from it.
          if (archive.entries?.next) cursor = archive.entries.next;
          if (archive.status === 'done' || archive.status === 'failed') {
            finished = true;
            stopArchive?.();
            // Every entry, page after page, as they finally are.
            entries.clear();
            archive = await api(path);
            archive.entries.items.forEach((e) => entries.set(e.index, e));
            let next = archive.entries.next;
            while (next) {
              const more = await api(`${path}&after=${encodeURIComponent(next)}`);
              more.entries.items.forEach((e) => entries.set(e.index, e));
              next = more.entries.next;
            }
            refreshArchives();
          }
          if (!archiveSlot.contains(section)) mount(archiveSlot, section);
          section.dataset.archiveId = archive.id;
          section.dataset.status = archive.status;
          mount(head, archiveHead(archive));
          drawEntries([...entries.values()].sort((a, b) => a.index - b.index));
          table.hidden = !entries.size;
          note.textContent = entries.size ? ''
            : archive.status === 'waiting' ? 'Waiting for the upload.'
              : finished ? 'No entries.' : 'Entries appear here as they are registered.';
        } catch (error) {
          mount(archiveSlot, problemBox(error));
          if (error instanceof ApiError && error.status === 404) { finished = true; stopArchive?.(); }
        }
      }, POLL_MS);
      stops.add(stopArchive);

      /** The rows in order, each built once (its thumbnail loads once) unless it changed. */
      function drawEntries(list) {
        const trs = list.map((e) => {
          const known = rows.get(e.index);
          if (known && known[0].status === e.status && known[0].url === e.url) return known[1];
          const tr = entryRow(e, local.get(e.name));
          rows.set(e.index, [e, tr]);
          return tr;
        });
        tbody.replaceChildren(...trs);
      }
    }

    let localUrls = [];
    function revokeLocal() { localUrls.forEach((url) => URL.revokeObjectURL(url)); localUrls = []; }
    stops.add(revokeLocal);

    function entryRow(e, file) {
      let thumb = null;
      if (file && e.status === 'registered') {
        const url = URL.createObjectURL(file);
        localUrls.push(url);
        thumb = h('img.thumb.bk-thumb', { alt: '', src: url, loading: 'lazy', width: 48, height: 48 });
      } else if (e.url) {
        thumb = h('img.thumb.bk-thumb', { alt: '', 'data-src': e.url, width: 48, height: 48 });
        thumbs.add(thumb);
      }
      return h('tr', { 'data-testid': 'archive-entry', 'data-status': e.status },
        h('td.num', String(e.index)),
        h('td', thumb),
        h('td.bk-name', e.url
          ? h('a', { href: e.url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'archive-entry-link', title: 'Open the registered image' }, e.name)
          : e.name),
        h('td', h(`span.badge.${ENTRY_CLASS[e.status] || 'plain'}`, e.status),
          e.reason ? h('span.bk-reason', ` ${e.reason}`) : null,
          e.image_id ? h('div.muted.bk-small', h('code', e.image_id)) : null));
    }

    function archiveHead(archive) {
      const c = archive.counts;
      const handled = c.registered + c.refused;
      return [
        h('div.row.bk-archive-head',
          h('h3#bk-archive-title', 'Archive ', h('code', archive.id.slice(0, 8))),
          h(`span.badge.${ARCHIVE_CLASS[archive.status] || 'plain'}`, { 'data-testid': 'archive-status' }, archive.status),
          archive.bytes ? h('span.muted', formatBytes(archive.bytes)) : null,
          h('span.muted', formatTime(archive.updated_at))),
        archive.reason ? h('div.problem', { role: 'alert', 'data-testid': 'archive-reason' }, h('strong', 'The archive failed'), h('p', archive.reason)) : null,
        h('div.bk-stats',
          stat('images', c.total, 'archive-total'),
          stat('registered', c.registered, 'archive-registered'),
          stat('refused', c.refused, 'archive-refused'),
          stat('skipped', c.skipped, 'archive-skipped')),
        archive.status === 'running' && c.total
          ? h('progress.bk-ingest', { max: c.total, value: handled, 'aria-label': 'Images handled' }) : null,
      ];
    }

    // ---- recent archives ------------------------------------------------------------------

    const archivesSlot = h('div');
    async function refreshArchives() {
      try {
        const page = await api('/v1/bulk/image-archives?limit=10');
        if (!page.items.length) return mount(archivesSlot, h('p.muted', 'No archives yet.'));
        mount(archivesSlot, h('div.table-wrap', h('table',
          h('thead', h('tr', h('th', 'Archive'), h('th', 'Status'), h('th.num', 'Images'), h('th.num', 'Registered'), h('th.num', 'Refused'), h('th', 'Updated'))),
          h('tbody', page.items.map((a) => h('tr',
            h('td', h('button.link.bk-open', { type: 'button', onclick: () => showArchive(a.id) }, h('code', a.id.slice(0, 8)))),
            h('td', h(`span.badge.${ARCHIVE_CLASS[a.status] || 'plain'}`, a.status)),
            h('td.num', String(a.counts.total)),
            h('td.num', String(a.counts.registered)),
            h('td.num', String(a.counts.refused)),
            h('td', formatTime(a.updated_at))))))));
      } catch (error) {
        mount(archivesSlot, problemBox(error));
      }
    }

    // ---- product CSV ------------------------------------------------------------------------

    const csvInput = h('input#bulk-csv-input', { type: 'file', accept: '.csv,text/csv', 'data-testid': 'bulk-csv-input' });
    const dryRun = h('input#bulk-dry-run', { type: 'checkbox', 'data-testid': 'bulk-dry-run' });
    const importButton = h('button', { type: 'submit', 'data-testid': 'bulk-import-button' }, 'Import');
    dryRun.addEventListener('change', () => { importButton.textContent = dryRun.checked ? 'Check' : 'Import'; });
    const reportSlot = h('div', { 'data-testid': 'bulk-import-report', 'aria-live': 'polite' });

    const csvForm = h('form.bk-csv', {
      onsubmit: async (event) => {
        event.preventDefault();
        const file = csvInput.files[0];
        if (!file) return mount(reportSlot, h('p.problem', { role: 'alert' }, 'Choose a CSV file first.'));
        importButton.disabled = true;
        mount(reportSlot, h('p.loading', dryRun.checked ? 'Checking…' : 'Importing…'));
        try {
          const report = await api(`/v1/bulk/products${dryRun.checked ? '?dry_run=true' : ''}`, {
            body: file, headers: { 'Content-Type': 'text/csv' },
          });
          mount(reportSlot, reportView(report));
          reportSlot.scrollIntoView({ block: 'nearest' });
        } catch (error) {
          mount(reportSlot, problemBox(error));
        } finally {
          importButton.disabled = false;
        }
      },
    },
    h('div.bk-csv-fields',
      h('div', h('label', { for: 'bulk-csv-input' }, 'Product CSV'), h('br'), csvInput),
      h('div.bk-check', dryRun, h('label', { for: 'bulk-dry-run' }, ' Check only (dry run): apply nothing')),
      h('div.row', importButton,
        h('button.secondary', {
          type: 'button',
          onclick: () => saveBlob(new Blob(['\uFEFFsku,name,price,description,image_1,image_2\nA-001,"玉ねぎ 3玉",298,北海道産,onion-1.jpg,onion-2.jpg\n'], { type: 'text/csv' }), 'products-template.csv'),
        }, 'Template CSV'))));

    function downloadButton(report) {
      const button = h('button.secondary', {
        type: 'button', 'data-testid': 'failed-rows-download',
        onclick: async () => {
          button.disabled = true;
          try {
            const blob = await api(report.failed_rows_url, { as: 'blob' });
            saveBlob(blob, `failed-rows-${report.id}.csv`);
            button.dataset.downloaded = String(blob.size);
          } catch (error) {
            toast(`Cannot download the failed rows: ${error.message}`, 'error');
          } finally {
            button.disabled = false;
          }
        },
      }, 'Download failed rows (CSV)');
      return button;
    }

    function reportView(report) {
      const errors = report.errors ?? [];
      return h('section.bk-report', { 'data-import-id': report.id, 'aria-label': 'Import report' },
        h('div.row',
          h('strong', report.dry_run ? 'Checked' : 'Imported'),
          report.dry_run ? h('span.badge.warn', 'dry run: nothing applied') : null,
          h('span.muted', `${report.encoding} · ${formatTime(report.created_at)}`)),
        h('div.bk-stats',
          stat('rows', report.rows, 'import-rows'),
          stat(report.dry_run ? 'would apply' : 'applied', report.dry_run ? report.rows - report.failed : report.applied, 'import-applied'),
          stat('failed', report.failed, 'import-failed')),
        report.failed
          ? h('div.row', downloadButton(report),
            h('span.muted', 'Fix them in the file and upload it again: it has an error column.'))
          : h('p.bk-ok', 'Every row is good.'),
        errors.length
          ? h('div.table-wrap', h('table.bk-errors',
            h('thead', h('tr', h('th.num', 'Line'), h('th', 'Column'), h('th', 'Problem'))),
            h('tbody', errors.slice(0, SHOWN_ERRORS).map((e) => h('tr', { 'data-testid': 'import-error' },
              h('td.num', String(e.line)), h('td', h('code', e.column || '—')), h('td', e.message))))))
          : null,
        errors.length > SHOWN_ERRORS ? h('p.muted', `and ${errors.length - SHOWN_ERRORS} more problems, all in the failed rows file.`) : null);
    }

    // ---- the page ---------------------------------------------------------------------------

    mount(root,
      h('h1', 'Bulk'),
      h('section.card', { 'aria-labelledby': 'bk-images-title' },
        h('h2#bk-images-title', 'Images'),
        h('p.muted', 'The images are zipped here in your browser and uploaded as one archive; each is then registered under its file name, which product CSVs refer to.'),
        dropzone,
        chosenInfo,
        h('div.row.bk-actions', uploadButton, clearButton),
        progress,
        uploadError,
        archiveSlot),
      h('section.card', { 'aria-labelledby': 'bk-archives-title' },
        h('h2#bk-archives-title', 'Recent archives'),
        archivesSlot),
      h('section.card', { 'aria-labelledby': 'bk-csv-title' },
        h('h2#bk-csv-title', 'Products'),
        h('p.muted', 'Columns ', h('code', 'sku'), ', ', h('code', 'name'), ', ', h('code', 'price'), ' (yen), optionally ',
          h('code', 'description'), ' and ', h('code', 'image_1'), ' to ', h('code', 'image_10'),
          ' (file names from your archives). UTF-8 or Excel’s Shift_JIS (CP932).'),
        csvForm,
        reportSlot));

    choose([]);
    refreshArchives();
    const archiveParam = ctx.params.get('archive');
    if (archiveParam) showArchive(archiveParam);
    const importParam = ctx.params.get('import');
    if (importParam) {
      api(`/v1/bulk/product-imports/${encodeURIComponent(importParam)}`)
        .then((report) => mount(reportSlot, reportView(report)))
        .catch((error) => mount(reportSlot, problemBox(error)));
    }
    return cleanup;
  },
};
