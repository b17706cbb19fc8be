// Meal photos: drop photos (or choose them), watch each go waiting → queued → processing →
// done with its decision and score, or failed with the reason. The page does what the phone app
// does: asks `POST /v1/meal-photos` for upload URLs, PUTs the bytes there, then follows the
// change feed `GET /v1/meal-photos?changed_since=CURSOR`.

import { api, ApiError } from '../lib/api.js';
import { h, mount, toast, problemBox, formatBytes, formatTime, poll } from '../lib/dom.js';

const ACCEPTED = ['image/jpeg', 'image/png', 'image/webp', 'image/heic'];
const BY_EXTENSION = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', heic: 'image/heic', heif: 'image/heic' };
/** Photos per `POST`: under the server's `classification.max_photos_per_request` (100). */
const BATCH = 50;
/** PUTs in flight at once. */
const PARALLEL_UPLOADS = 4;
/** Most photos shown; older ones drop off the end. */
const SHOWN = 120;
const POLL_MS = 1500;

const STATUS_CLASS = { waiting: 'plain', queued: 'warn', processing: 'warn', done: 'ok', failed: 'bad', uploading: 'plain', refused: 'bad' };
const STATUS_TEXT = {
  uploading: 'uploading',
  refused: 'not sent',
  waiting: 'waiting',
  queued: 'queued',
  processing: 'processing',
  done: 'done',
  failed: 'failed',
};

function contentTypeOf(file) {
  if (ACCEPTED.includes(file.type)) return file.type;
  const ext = file.name.split('.').pop().toLowerCase();
  return BY_EXTENSION[ext] ?? file.type;
}

/** The device's id for a file: the same file dropped again is the same photo. */
function deviceIdOf(file) {
  // eslint-disable-next-line no-control-regex
  const name = file.name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 120);
  return `console:${name}:${file.size}:${file.lastModified}`;
}

export default {
  async render(root, ctx) {
    // Photos by a local key (the device id), each { key, file, url, name, size, photo, local, error }.
    const items = new Map();
    let everyone = false;
    let cursor = '';
    let stopPolling = null;
    let loadError = null;
    let loaded = false;
    // Photo id → local key, so the feed finds the item of a photo it reports.
    const keyOfPhoto = new Map();

    const input = h('input#meal-photo-input', {
      type: 'file', multiple: true, accept: ACCEPTED.join(','), 'data-testid': 'meal-photo-input',
      onchange: () => { add([...input.files]); input.value = ''; },
    });
    const zone = h('div.dropzone.mp-drop', { 'data-testid': 'meal-photo-drop' },
      h('p.mab-drop-title', 'Drop meal photos here'),
      h('p.muted', 'JPEG, PNG, WebP or HEIC; as many as you like.'),
      h('div.mp-choose', h('label', { for: 'meal-photo-input' }, 'Or choose photos: '), input));
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      add([...(e.dataTransfer?.files ?? [])]);
    });

    const summary = h('p.mp-summary', { 'aria-live': 'polite', 'data-testid': 'meal-photo-summary' });
    const list = h('ul.mp-list', { 'data-testid': 'meal-photo-list', 'aria-label': 'Photos' });
    const errorSlot = h('div');
    const scope = ctx.me.admin
      ? h('label.mp-scope', h('input', {
        type: 'checkbox', 'data-testid': 'meal-photo-everyone',
        onchange: (e) => { everyone = e.target.checked; restart(); },
      }), ' Everyone’s photos')
      : null;

    mount(root,
      h('h1', 'Meal photos'),
      h('section.card', { 'aria-labelledby': 'mp-upload-title' },
        h('h2#mp-upload-title', 'Upload'),
        h('p.muted', 'Each photo is uploaded as the diary app does it, then classified: food or not food, with the model’s score.'),
        zone),
      h('section.card', { 'aria-labelledby': 'mp-list-title' },
        h('div.row.mp-head', h('h2#mp-list-title', 'Recent photos'), scope),
        summary, errorSlot, list));

    // ---- drawing -------------------------------------------------------------------------

    function statusOf(item) {
      return item.local ?? item.photo?.status ?? 'waiting';
    }

    /** The item's list entry, built again only when what it shows changed. */
    function card(item) {
      const status = statusOf(item);
      const signature = JSON.stringify([status, item.photo?.score, item.photo?.is_food, item.photo?.reason, item.error, item.url, item.photo?.updated_at]);
      if (item.el && item.signature === signature) return item.el;
      item.signature = signature;
      item.el = build(item, status);
      return item.el;
    }

    function build(item, status) {
      const photo = item.photo;
      const placeholder = () => h('div.mp-thumb.mp-nothumb', { 'aria-hidden': 'true' }, 'no preview');
      // A file the browser cannot show (HEIC, or not a picture at all) gets the placeholder.
      const thumb = item.url
        ? h('img.thumb.mp-thumb', { src: item.url, alt: `Photo ${item.name}`, onerror: (e) => e.target.replaceWith(placeholder()) })
        : placeholder();
      const decision = status === 'done' && photo
        ? h('p.mp-decision',
          h(`span.badge.${photo.is_food ? 'ok' : 'plain'}`, { 'data-testid': 'photo-decision' }, photo.is_food ? 'food' : 'not food'),
          ' ',
          h('span.mp-score', { 'data-testid': 'photo-score', title: 'Food probability, 0 to 1' },
            `score ${Number(photo.score ?? 0).toFixed(2)}`),
          h('meter', { min: 0, max: 1, low: 0.5, optimum: 1, value: photo.score ?? 0, 'aria-label': 'Food score' }))
        : null;
      const reason = item.error ?? (status === 'failed' ? photo?.reason : null);
      return h('li.mp-item', {
        'data-testid': 'meal-photo', 'data-status': status, 'data-photo-id': photo?.id ?? '', 'data-name': item.name,
      },
      thumb,
      h('div.mp-body',
        h('p.mp-name', { title: item.name }, item.name),
        h('p.mp-meta',
          h(`span.badge.${STATUS_CLASS[status] || 'plain'}`, { 'data-testid': 'photo-status' }, STATUS_TEXT[status] ?? status),
          item.size ? h('span.muted', ` ${formatBytes(item.size)}`) : null),
        decision,
        reason ? h('p.mp-reason', { 'data-testid': 'photo-reason' }, reason) : null,
        photo?.model ? h('p.muted.mp-small', `${photo.model.name} ${photo.model.version}`) : null,
        photo ? h('p.muted.mp-small', formatTime(photo.classified_at ?? photo.updated_at)) : null));
    }

    function draw() {
      // Newest first: local order of insertion, most recent at the end of the map.
      const shown = [...items.values()].reverse().slice(0, SHOWN);
      const counts = {};
      for (const item of items.values()) {
        const s = statusOf(item);
        counts[s] = (counts[s] ?? 0) + 1;
      }
      mount(errorSlot, loadError ? problemBox(loadError) : null);
      if (!items.size) {
        mount(summary);
        if (!loaded) return mount(list, h('li.mp-empty.loading', 'Loading…'));
        mount(list, h('li.mp-empty', { 'data-testid': 'meal-photo-empty' },
          'No photos yet. Drop some above to see them classified.'));
        return;
      }
      const order = ['uploading', 'waiting', 'queued', 'processing', 'done', 'failed', 'refused'];
      mount(summary, `${items.size} photo${items.size === 1 ? '' : 's'}: `,
        order.filter((s) => counts[s]).map((s, i) => [i ? ', ' : '', `${counts[s]} ${STATUS_TEXT[s]}`]),
        items.size > SHOWN ? ` (the ${SHOWN} latest shown)` : '');
      mount(list, shown.map(card));
    }

    /** A photo the server told about: into its item (found by id or device id), or a new one. */
    function merge(photo) {
      let item = items.get(keyOfPhoto.get(photo.id));
      if (!item) {
        const mine = items.get(photo.device_photo_id);
        if (mine && !mine.photo?.id) item = mine;
      }
      if (!item) {
        // Someone else's photo may share a device id with one of ours: keyed by its id.
        const key = items.has(photo.device_photo_id) ? photo.id : photo.device_photo_id;
        item = { key, name: photo.device_photo_id.replace(/^console:(.*):\d+:\d+$/, '$1') };
        items.set(key, item);
      }
      keyOfPhoto.set(photo.id, item.key);
      // A server status newer than "uploading" wins over the local one.
      if (item.local === 'uploading' && photo.status !== 'waiting') item.local = null;
      item.photo = { ...item.photo, ...photo };
      return item;
    }

    // ---- the feed ------------------------------------------------------------------------

    function feedPath() {
      const q = new URLSearchParams({ changed_since: cursor });
      if (!everyone) q.set('owner', ctx.me.subject);
      return `/v1/meal-photos?${q}`;
    }

    async function readFeed() {
      // More pages wait while has_more: read them at once.
      for (let page = 0; page < 50; page++) {
        const answer = await api(feedPath());
        answer.items.forEach(merge);
        cursor = answer.next_cursor;
        if (!answer.has_more) break;
      }
    }

    function startPolling() {
      stopPolling = poll(async () => {
        try {
          await readFeed();
          loadError = null;
          loaded = true;
        } catch (error) {
          loadError = error;
        }
        draw();
      }, POLL_MS);
    }

    function restart() {
      if (stopPolling) stopPolling();
      // Photos of this session that were not sent stay; what the feed gave is read again.
      for (const [key, item] of items) if (!item.file) items.delete(key);
      keyOfPhoto.clear();
      for (const item of items.values()) if (item.photo?.id) keyOfPhoto.set(item.photo.id, item.key);
      cursor = '';
      loaded = false;
      draw();
      startPolling();
    }

    // ---- uploading -----------------------------------------------------------------------

    async function add(files) {
      if (!files.length) return;
      const fresh = [];
      for (const file of files) {
        const key = deviceIdOf(file);
        let item = items.get(key);
        if (item?.url && item.file) URL.revokeObjectURL(item.url);
        items.delete(key); // back to the top of the list
        const type = contentTypeOf(file);
        const url = ACCEPTED.includes(type) ? URL.createObjectURL(file) : null;
        item = { ...(item ?? {}), key, file, name: file.name, size: file.size, url, error: null };
        if (!ACCEPTED.includes(type)) {
          item.local = 'refused';
          item.error = `${type || 'This file type'} is not accepted: JPEG, PNG, WebP or HEIC.`;
        } else {
          item.local = 'uploading';
          item.type = type;
          fresh.push(item);
        }
        items.set(key, item);
      }
      draw();
      for (let i = 0; i < fresh.length; i += BATCH) {
        await sendBatch(fresh.slice(i, i + BATCH));
      }
    }

    /** Asks for upload URLs; photos the server refuses by field are marked and left out. */
    async function sendBatch(batch) {
      let asked = batch;
      while (asked.length) {
        try {
          const answer = await api('/v1/meal-photos', {
            json: { photos: asked.map((it) => ({ device_photo_id: it.key, content_type: it.type, size: it.file.size })) },
          });
          const jobs = answer.photos.map((photo, i) => ({ item: asked[i], photo }));
          for (const { item, photo } of jobs) {
            item.photo = photo;
            keyOfPhoto.set(photo.id, item.key);
            if (!photo.upload) item.local = null; // already uploaded: its status stands
          }
          draw();
          await putAll(jobs.filter((j) => j.photo.upload));
          return;
        } catch (error) {
          const refused = refusedIndexes(error, asked.length);
          if (!refused.size) {
            for (const item of asked) { item.local = 'refused'; item.error = error.message; }
            draw();
            toast(`Upload failed: ${error.message}`, 'error');
            return;
          }
          for (const [i, message] of refused) { asked[i].local = 'refused'; asked[i].error = message; }
          asked = asked.filter((_, i) => !refused.has(i));
          draw();
        }
      }
    }

    function refusedIndexes(error, count) {
      const refused = new Map();
      if (!(error instanceof ApiError)) return refused;
      for (const field of error.problem?.errors ?? []) {
        const match = /^photos\[(\d+)\]\.(\w+)/.exec(field.field);
        if (match && +match[1] < count) refused.set(+match[1], `${match[2].replace('_', ' ')}: ${field.message}`);
      }
      return refused;
    }

    async function putAll(jobs) {
      let next = 0;
      const worker = async () => {
        while (next < jobs.length) {
          const { item, photo } = jobs[next++];
          try {
            const response = await fetch(photo.upload.upload_url, {
              method: photo.upload.method || 'PUT', headers: photo.upload.headers ?? {}, body: item.file,
            });
            if (!response.ok) {
              const problem = (response.headers.get('Content-Type') ?? '').includes('json')
                ? await response.json().catch(() => null) : null;
              throw new ApiError(response.status, problem);
            }
            // Uploaded: the feed says what comes next; until it does, it waits for its event.
            if (item.local === 'uploading') item.local = null;
          } catch (error) {
            item.local = 'refused';
            item.error = `The upload failed: ${error.message}`;
          }
          draw();
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, jobs.length) }, worker));
    }

    draw();
    startPolling();

    return () => {
      if (stopPolling) stopPolling();
      for (const item of items.values()) if (item.file && item.url) URL.revokeObjectURL(item.url);
    };
  },
};
