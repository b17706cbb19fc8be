// Images: upload by drag and drop (or a file input), see an image's original and its stored
// renditions, and try transform parameters: the URL, the bytes, format and time taken.
//
// API: POST /v1/images (the file as the raw body), GET /v1/images, GET /v1/images/{id}
// (with `variants`), DELETE /v1/images/{id}, and the public GET /i/{id}/{version}?w=&h=&dpr=
// &fit=&fp=&format=&q= (see src/images/transform/mod.rs).

import { api } from '../lib/api.js';
import { h, mount, toast, problemBox, formatBytes, formatTime, poll } from '../lib/dom.js';

const PAGE = 24;
const ACCEPTED = 'image/jpeg,image/png,image/gif,image/webp,image/avif,image/heic';
// What Chromium sends for an <img>, so format=auto negotiates as it would for a page.
const IMG_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
// A preset every image gets at registration: thumbnails never make new renditions.
const THUMB_QUERY = 'w=320&format=webp';
// The largest preset: the original as near as a browser shows it, without a new rendition.
const ORIGINAL_QUERY = 'w=2560&format=webp';
const PARAMS = ['w', 'h', 'dpr', 'fit', 'fp', 'format', 'q'];
const DEBOUNCE_MS = 400;

function pathOf(image, query = '') {
  // The path, not image.url: the console fetches from its own origin (CSP connect-src 'self'),
  // whatever public URL (a CDN) the server is configured with.
  const path = `/i/${encodeURIComponent(image.id)}/${encodeURIComponent(image.version)}`;
  return query ? `${path}?${query}` : path;
}

/** `640x480-cover-at30x25-q75.webp` → the query that asks for it. */
function queryOfVariant(name) {
  const match = /^(\d+)x(\d+)(-cover(?:-at(\d+)x(\d+))?)?(?:-q(\d+))?\.(\w+)$/.exec(name);
  if (!match) return null;
  const [, w, hgt, cover, fx, fy, q, ext] = match;
  const params = new URLSearchParams();
  params.set('w', w);
  if (cover) { params.set('h', hgt); params.set('fit', 'cover'); }
  if (fx !== undefined) params.set('fp', `${Number(fx) / 100},${Number(fy) / 100}`);
  params.set('format', ext === 'jpg' ? 'jpeg' : ext);
  if (q) params.set('q', q);
  return params;
}

function dl(pairs) {
  return h('dl.images-facts', pairs.filter(Boolean).map(([term, value, testid]) => [
    h('dt', term),
    h('dd', { 'data-testid': testid }, value),
  ]));
}

export default {
  async render(root, ctx) {
    const state = {
      images: [],
      next: null,
      selected: null,
      uploads: [],
      blobUrl: null,
      timer: null,
      sequence: 0,
      stopDetailPoll: null,
      disposed: false,
    };

    // ---- Upload ----------------------------------------------------------------------
    const fileInput = h('input.images-file#image-file', {
      type: 'file',
      accept: ACCEPTED,
      multiple: true,
      'data-testid': 'image-file',
      onchange: () => { uploadFiles([...fileInput.files]); fileInput.value = ''; },
    });
    const uploadList = h('ul.images-uploads', { 'aria-live': 'polite', 'data-testid': 'image-uploads' });
    const dropzone = h('div.dropzone.images-drop', {
      'data-testid': 'image-dropzone',
      ondragenter: (e) => { e.preventDefault(); dropzone.classList.add('over'); },
      ondragover: (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; dropzone.classList.add('over'); },
      ondragleave: (e) => { if (!dropzone.contains(e.relatedTarget)) dropzone.classList.remove('over'); },
      ondrop: (e) => {
        e.preventDefault();
        dropzone.classList.remove('over');
        uploadFiles([...(e.dataTransfer?.files ?? [])]);
      },
    },
    h('p.images-drop-title', 'Drop pictures here'),
    h('p', 'JPEG, PNG, GIF, WebP, AVIF or HEIC · or ',
      h('label.images-file-label', { for: 'image-file' }, 'choose files'),
      fileInput));

    // ---- Lists and detail ------------------------------------------------------------
    const gallery = h('div#images-list', { 'data-testid': 'images-list' }, h('p.loading', 'Loading…'));
    const galleryMore = h('div.images-more');
    const detail = h('section.card.images-detail#image-detail', { 'data-testid': 'image-detail', 'aria-labelledby': 'image-detail-title', hidden: true });

    mount(root,
      h('h1', 'Images'),
      h('section.card', { 'aria-labelledby': 'images-upload-title' },
        h('h2#images-upload-title', 'Upload'),
        dropzone,
        uploadList),
      detail,
      h('section.card', { 'aria-labelledby': 'images-list-title' },
        h('div.images-head',
          h('h2#images-list-title', 'Images'),
          h('button.secondary', { type: 'button', onclick: () => loadList() }, 'Refresh')),
        gallery,
        galleryMore));

    // Dropping a file anywhere else must not navigate away from the console.
    const stopStray = (e) => { if (e.dataTransfer?.types?.includes('Files')) e.preventDefault(); };
    window.addEventListener('dragover', stopStray);
    window.addEventListener('drop', stopStray);

    // ---- Uploading -------------------------------------------------------------------
    function renderUploads() {
      mount(uploadList, state.uploads.map((u) => h('li.images-upload', { 'data-testid': 'image-upload', dataset: { status: u.status } },
        h('span.images-upload-name', u.name),
        h('span.muted', formatBytes(u.size)),
        u.status === 'uploading' ? h('progress', { 'aria-label': `Uploading ${u.name}` }) : null,
        u.status === 'done' ? h('span.badge.ok', u.created ? 'registered' : 'already registered') : null,
        u.status === 'done' ? h('button.link', { type: 'button', onclick: () => select(u.image.id) }, 'Open') : null,
        u.status === 'error' ? problemBox(u.error) : null)));
    }

    async function uploadFiles(files) {
      if (!files.length) return;
      const entries = files.map((file) => ({ name: file.name, size: file.size, status: 'waiting', file }));
      state.uploads = [...entries, ...state.uploads].slice(0, 10);
      renderUploads();
      let last = null;
      for (const entry of entries) {
        if (state.disposed) return;
        entry.status = 'uploading';
        renderUploads();
        try {
          const response = await api('/v1/images', {
            body: entry.file,
            headers: { 'Content-Type': entry.file.type || 'application/octet-stream' },
            as: 'response',
          });
          entry.image = await response.json();
          entry.created = response.status === 201;
          entry.status = 'done';
          last = entry.image;
        } catch (error) {
          entry.status = 'error';
          entry.error = error;
        }
        entry.file = null;
        renderUploads();
      }
      if (last && !state.disposed) {
        await loadList();
        await select(last.id);
      }
    }

    // ---- The gallery -----------------------------------------------------------------
    function renderList(error) {
      if (error) { mount(gallery, problemBox(error)); return; }
      if (!state.images.length) {
        mount(gallery, h('p.muted', { 'data-testid': 'images-empty' }, 'No images yet. Upload one above.'));
        mount(galleryMore);
        return;
      }
      mount(gallery, h('ul.images-grid', state.images.map((image) => h('li',
        h('button.images-tile', {
          type: 'button',
          'data-testid': 'image-tile',
          dataset: { imageId: image.id },
          'aria-pressed': state.selected?.id === image.id ? 'true' : 'false',
          onclick: () => select(image.id),
        },
        h('img.thumb', { src: pathOf(image, THUMB_QUERY), alt: '', loading: 'lazy', width: 160, height: 120 }),
        h('span.images-tile-meta',
          h('strong', `${image.width}×${image.height}`), ' ',
          h('span.muted', `${image.format} · ${formatBytes(image.bytes)}`)),
        h('span.muted.images-tile-owner', `${image.owner} · ${formatTime(image.created_at)}`))))));
      mount(galleryMore, state.next
        ? h('button.secondary', { type: 'button', onclick: () => loadList(true) }, 'Load more')
        : null);
    }

    async function loadList(more = false) {
      try {
        const params = new URLSearchParams({ limit: String(PAGE) });
        if (more && state.next) params.set('after', state.next);
        const page = await api(`/v1/images?${params}`);
        if (state.disposed) return;
        state.images = more ? [...state.images, ...page.items] : page.items;
        state.next = page.next ?? null;
        renderList();
      } catch (error) {
        if (!state.disposed) renderList(error);
      }
    }

    // ---- One image -------------------------------------------------------------------
    const inputs = {
      w: h('input#tf-w', { type: 'number', min: 1, max: 4096, inputmode: 'numeric', placeholder: 'auto', 'data-testid': 'tf-w' }),
      h: h('input#tf-h', { type: 'number', min: 1, max: 4096, inputmode: 'numeric', placeholder: 'auto', 'data-testid': 'tf-h' }),
      dpr: h('input#tf-dpr', { type: 'number', min: 1, max: 4, step: 0.25, inputmode: 'decimal', placeholder: '1', 'data-testid': 'tf-dpr' }),
      fit: h('select#tf-fit', { 'data-testid': 'tf-fit' }, ['', 'inside', 'contain', 'cover', 'fill'].map((v) => h('option', { value: v }, v || 'inside (default)'))),
      fp: h('input#tf-fp', { type: 'text', placeholder: 'x,y e.g. 0.5,0.3', inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'tf-fp' }),
      format: h('select#tf-format', { 'data-testid': 'tf-format' }, ['', 'jpeg', 'webp', 'avif', 'png'].map((v) => h('option', { value: v }, v || 'auto'))),
      q: h('input#tf-q', { type: 'number', min: 1, max: 100, inputmode: 'numeric', placeholder: '80', 'data-testid': 'tf-q' }),
    };
    const hints = {
      w: 'snaps up to the configured sizes',
      h: 'with w: a box',
      dpr: '1 to 4',
      fit: 'all but inside need w and h',
      fp: 'cover only; or click the original',
      format: 'auto: the best the Accept header names',
      q: 'snaps to 50, 75, 80 or 90',
    };
    const acceptImg = h('input#tf-accept', { type: 'checkbox', checked: true });
    const urlBox = h('code.images-url', { 'data-testid': 'tf-url' });
    const resultBox = h('div.images-result', { 'data-testid': 'tf-result', 'aria-live': 'polite' });
    const resultImage = h('img.thumb.images-result-img', { alt: 'The transformed image', 'data-testid': 'tf-image', hidden: true });
    for (const [name, input] of Object.entries(inputs)) {
      input.addEventListener('input', () => scheduleTry());
      input.addEventListener('change', () => scheduleTry());
      input.name = name;
    }
    acceptImg.addEventListener('change', () => scheduleTry());

    const playground = h('form.images-playground', {
      onsubmit: (e) => { e.preventDefault(); tryTransform(); },
    },
    h('div.images-params', PARAMS.map((name) => h('div.images-param',
      h('label', { for: `tf-${name}` }, name),
      inputs[name],
      hints[name] ? h('span.muted.images-hint', hints[name]) : null))),
    h('label.images-check', acceptImg, ' Send the Accept header of an <img> (else */*): format=auto negotiates on it'),
    h('div.row',
      h('button#tf-fetch', { type: 'submit', 'data-testid': 'tf-fetch' }, 'Fetch'),
      h('button.secondary', { type: 'button', onclick: () => { setParams(new URLSearchParams()); tryTransform(); } }, 'Clear'),
      h('button.secondary', { type: 'button', onclick: () => copyUrl() }, 'Copy URL')),
    h('p.images-url-line', h('span.muted', 'URL '), urlBox));

    function queryFromInputs() {
      // Built by hand so that fp keeps its comma, as the documentation writes it.
      return PARAMS
        .map((name) => [name, inputs[name].value.trim()])
        .filter(([, value]) => value)
        .map(([name, value]) => `${name}=${encodeURIComponent(value).replace(/%2C/gi, ',')}`)
        .join('&');
    }

    function setParams(params) {
      for (const name of PARAMS) inputs[name].value = params.get(name) ?? '';
    }

    function currentUrl() {
      return state.selected ? pathOf(state.selected, queryFromInputs()) : '';
    }

    function absoluteUrl() {
      if (!state.selected) return '';
      const query = queryFromInputs();
      const base = state.selected.url ?? `${location.origin}${pathOf(state.selected)}`;
      return query ? `${base}?${query}` : base;
    }

    async function copyUrl() {
      try {
        await navigator.clipboard.writeText(absoluteUrl());
        toast('URL copied', 'ok');
      } catch {
        toast('Cannot copy here; select the URL instead', 'error');
      }
    }

    function scheduleTry() {
      mount(urlBox, absoluteUrl());
      clearTimeout(state.timer);
      state.timer = setTimeout(tryTransform, DEBOUNCE_MS);
    }

    async function tryTransform() {
      clearTimeout(state.timer);
      if (!state.selected) return;
      const path = currentUrl();
      mount(urlBox, absoluteUrl());
      for (const input of Object.values(inputs)) input.removeAttribute('aria-invalid');
      const sequence = ++state.sequence;
      mount(resultBox, h('p.muted', 'Fetching…'));
      const started = performance.now();
      try {
        const response = await api(path, {
          as: 'response',
          auth: false,
          // Cache-Control: no-cache makes the browser go to the server, so the time is real.
          headers: { Accept: acceptImg.checked ? IMG_ACCEPT : '*/*', 'Cache-Control': 'no-cache' },
        });
        const firstByte = performance.now() - started;
        const blob = await response.blob();
        const total = performance.now() - started;
        if (state.disposed || sequence !== state.sequence) return;
        if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
        state.blobUrl = URL.createObjectURL(blob);
        const etag = response.headers.get('ETag') ?? '';
        const rendition = etag.replace(/^W\//, '').replace(/"/g, '').replace(/^[^-]+-/, '');
        const dims = h('span', '…');
        resultImage.hidden = false;
        resultImage.onload = () => mount(dims, `${resultImage.naturalWidth}×${resultImage.naturalHeight}`);
        resultImage.onerror = () => mount(dims, 'the browser cannot show this format');
        resultImage.src = state.blobUrl;
        const cache = response.headers.get('Cache-Control') ?? '';
        const note = /max-age=60\b/.test(cache)
          ? 'a stand-in while the AVIF is made in the background'
          : /max-age=86400\b/.test(cache) && !/immutable/.test(cache) && !/fit=cover/.test(path)
            ? 'the nearest stored rendition (past the budget of renditions)'
            : null;
        mount(resultBox,
          dl([
            ['Status', `${response.status}`, 'tf-status'],
            ['Format', response.headers.get('Content-Type') ?? '', 'tf-type'],
            ['Size', formatBytes(blob.size), 'tf-size'],
            ['Pixels', dims, 'tf-dims'],
            ['Time', `${Math.round(total)} ms (first byte ${Math.round(firstByte)} ms)`, 'tf-time'],
            ['Rendition', rendition || '—', 'tf-rendition'],
            ['Cache-Control', cache, null],
            response.headers.get('Vary') ? ['Vary', response.headers.get('Vary'), null] : null,
          ]),
          note ? h('p.images-note', note) : null);
      } catch (error) {
        if (state.disposed || sequence !== state.sequence) return;
        resultImage.hidden = true;
        const fields = error?.problem?.errors ?? [];
        for (const field of fields) inputs[field.field]?.setAttribute('aria-invalid', 'true');
        mount(resultBox, problemBox(error));
      }
    }

    const variantsBox = h('div.images-variants-box', { 'aria-live': 'polite' });

    function renderVariants(image) {
      const variants = image.variants ?? [];
      const rows = variants.map((v) => {
        const query = queryOfVariant(v.name);
        return h('tr', { 'data-testid': 'image-variant' },
          h('td', h('code', v.name)),
          h('td', h(`span.badge${v.kind === 'derived' ? '.warn' : ''}`, v.kind)),
          h('td', v.format),
          h('td.num', `${v.width}×${v.height}`),
          h('td.num', formatBytes(v.bytes)),
          h('td', query
            ? h('button.secondary', { type: 'button', 'aria-label': `Try ${v.name}`, onclick: () => { setParams(query); tryTransform(); playground.scrollIntoView({ block: 'nearest' }); } }, 'Try')
            : null));
      });
      mount(variantsBox, variants.length
        ? h('div.table-wrap', h('table.images-variants', { 'data-testid': 'image-variants' },
          h('thead', h('tr', h('th', 'Name'), h('th', 'Kind'), h('th', 'Format'), h('th.num', 'Pixels'), h('th.num', 'Size'), h('th', { 'aria-label': 'Try' }))),
          h('tbody', rows)))
        : h('p.muted', { 'data-testid': 'image-variants-empty' }, 'None yet: the presets and the ladder are made in the background right after upload.'));
    }

    function renderDetail(image) {
      const original = h('img.thumb.images-original', {
        src: pathOf(image, ORIGINAL_QUERY),
        alt: `Image ${image.id}`,
        'data-testid': 'image-original',
        title: 'Click to set fp, the point a cover crop keeps in view',
      });
      const marker = h('span.images-focus', { 'aria-hidden': 'true' });
      const placeFocus = (x, y) => {
        marker.style.left = `${x * 100}%`;
        marker.style.top = `${y * 100}%`;
      };
      placeFocus(image.focus?.x ?? 0.5, image.focus?.y ?? 0.5);
      original.addEventListener('click', (event) => {
        const rect = original.getBoundingClientRect();
        const x = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
        const y = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
        inputs.fp.value = `${x.toFixed(2)},${y.toFixed(2)}`;
        inputs.fit.value = 'cover';
        if (!inputs.w.value) inputs.w.value = '320';
        if (!inputs.h.value) inputs.h.value = '320';
        placeFocus(x, y);
        tryTransform();
      });

      mount(detail,
        h('div.images-head',
          h('h2#image-detail-title', 'Image ', h('code', image.id.slice(0, 8))),
          h('div.row',
            h('button.secondary', { type: 'button', onclick: () => select(image.id) }, 'Reload'),
            h('button.danger', { type: 'button', onclick: () => remove(image) }, 'Delete'),
            h('button.secondary', { type: 'button', 'aria-label': 'Close', onclick: () => close() }, 'Close'))),
        h('div.images-detail-grid',
          h('figure.images-figure',
            h('div.images-original-wrap', original, marker),
            h('figcaption.muted', 'The original (as its largest WebP preset). The dot is the focus point; click the picture to crop around another.')),
          h('div',
            h('h3', 'Original'),
            dl([
              ['Format', image.format, 'image-format'],
              ['Pixels', `${image.width}×${image.height}${image.has_alpha ? ' with transparency' : ''}`, 'image-pixels'],
              ['Size', formatBytes(image.bytes), 'image-bytes'],
              ['Version', h('code', image.version), null],
              ['Owner', image.owner, null],
              ['Focus', `${image.focus?.x ?? 0.5}, ${image.focus?.y ?? 0.5} (${image.focus?.source ?? 'default'})`, null],
              image.placeholder ? ['Placeholder', h('span.images-swatch-row', (() => {
                const swatch = h('span.images-swatch', { 'aria-hidden': 'true' });
                if (image.placeholder.color) swatch.style.backgroundColor = image.placeholder.color;
                return [swatch, h('code', image.placeholder.color ?? ''), ' ', h('code.images-blurhash', image.placeholder.blurhash ?? '')];
              })()), null] : null,
              ['Registered', formatTime(image.created_at), null],
              ['URL', h('a', { href: pathOf(image), target: '_blank', rel: 'noopener' }, 'open'), null],
            ]))),
        h('h3', 'Stored renditions'),
        variantsBox,
        h('h3', 'Try a transform'),
        h('div.images-try',
          playground,
          h('div.images-result-pane', resultImage, resultBox)));
      renderVariants(image);
      detail.hidden = false;
    }

    function stopDetailPoll() {
      if (state.stopDetailPoll) { state.stopDetailPoll(); state.stopDetailPoll = null; }
    }

    async function select(id, { keepParams = false } = {}) {
      stopDetailPoll();
      try {
        const image = await api(`/v1/images/${encodeURIComponent(id)}`);
        if (state.disposed) return;
        const changed = state.selected?.id !== image.id;
        state.selected = image;
        renderDetail(image);
        renderList();
        history.replaceState(null, '', `#/images?id=${encodeURIComponent(image.id)}`);
        if (changed && !keepParams) setParams(new URLSearchParams());
        if (changed) detail.scrollIntoView({ block: 'start' });
        tryTransform();
        followVariants(image);
      } catch (error) {
        detail.hidden = false;
        mount(detail, h('h2#image-detail-title', 'Image'), problemBox(error));
      }
    }

    /** While renditions are still being made (a fresh upload), refresh their list. */
    function followVariants(image) {
      const young = Date.now() - new Date(image.created_at).getTime() < 3 * 60_000;
      if (!young) return;
      let last = JSON.stringify(image.variants ?? []);
      let steady = 0;
      let first = true;
      state.stopDetailPoll = poll(async () => {
        if (first) { first = false; return; }
        if (state.selected?.id !== image.id) { stopDetailPoll(); return; }
        const fresh = await api(`/v1/images/${encodeURIComponent(image.id)}`);
        if (state.disposed || state.selected?.id !== image.id) return;
        const now = JSON.stringify(fresh.variants ?? []);
        if (now !== last) {
          last = now;
          steady = 0;
          state.selected = fresh;
          renderVariants(fresh);
        } else if ((fresh.variants ?? []).length && ++steady >= 3) {
          stopDetailPoll();
        }
      }, 2000);
    }

    function close() {
      stopDetailPoll();
      state.selected = null;
      detail.hidden = true;
      mount(detail);
      history.replaceState(null, '', '#/images');
      renderList();
    }

    async function remove(image) {
      if (!window.confirm(`Delete image ${image.id}? Its URLs stop working at once.`)) return;
      try {
        await api(`/v1/images/${encodeURIComponent(image.id)}`, { method: 'DELETE' });
        toast('Image deleted', 'ok');
        close();
        await loadList();
      } catch (error) {
        toast(`Delete failed: ${error.message}`, 'error');
      }
    }

    await loadList();
    const wanted = ctx.params.get('id');
    if (wanted) await select(wanted);

    return () => {
      state.disposed = true;
      clearTimeout(state.timer);
      stopDetailPoll();
      window.removeEventListener('dragover', stopStray);
      window.removeEventListener('drop', stopStray);
      if (state.blobUrl) URL.revokeObjectURL(state.blobUrl);
    };
  },
};
