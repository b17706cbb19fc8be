// Ads (admin): the ingredient-jack kill switch, campaigns and their editor (keyword or
// ingredient targeting, ingredient names resolved to concepts as you type), creatives, stats per
// hour with the pace line, a preview of what delivery serves, and the ingredient names nothing
// matched, each one click from being added to the table.

import { api } from '../lib/api.js';
import { h, mount, toast, problemBox, formatTime, poll } from '../lib/dom.js';
import { chart } from '../lib/chart.js';

/** The slots of a default deployment; the API does not list the configured ones, so the slots
 * campaigns already use are added to these. */
const DEFAULT_SLOTS = ['search_top', 'search_middle', 'recipe_top', 'recipe_middle', 'recipe_bottom'];
const TARGETING_TEXT = { keyword: 'keyword jack', ingredient: 'ingredient jack', none: 'normal' };
const RESOLVE_DELAY_MS = 250;
const STATS_POLL_MS = 15_000;
const HOUR = 3600_000;
const CONCEPT_RE = /^[a-z0-9_-]{1,64}$/;

// ---- small helpers ---------------------------------------------------------------------

/** All the items of a paged list. */
async function all(path) {
  const items = [];
  let after = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api(`${path}${sep}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return items;
}

function pad(n) { return String(n).padStart(2, '0'); }

/** A date as a datetime-local input value, in local time. */
function toLocalInput(value) {
  const d = new Date(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
function formatDay(value) { return value ? dayFormat.format(new Date(value)) : ''; }

/** A CSV field, quoted. */
function csvField(value) { return `"${String(value).replace(/"/g, '""')}"`; }

/** Calls fn(value) once typing has paused; stale answers are dropped by the caller's sequence. */
function debounce(fn, ms) {
  let timer;
  const call = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  call.cancel = () => clearTimeout(timer);
  return call;
}

/** What a campaign is doing now. */
function runState(c, now = Date.now()) {
  if (c.status === 'paused') return ['paused', 'warn'];
  if (new Date(c.ends_at).getTime() <= now) return ['ended', 'plain'];
  if (new Date(c.starts_at).getTime() > now) return ['scheduled', 'plain'];
  return ['running', 'ok'];
}

function fieldInput(id, label, input, hint) {
  return h('div.ad-field', h('label', { for: id }, label), input, hint ? h('p.muted.ad-hint', hint) : null);
}

export default {
  async render(root) {
    const stops = new Set();
    const state = { advertisers: [], campaigns: [], concepts: new Map() };

    // Concept id → a name it stands for (the table's normalized name), fetched once each.
    async function conceptName(concept) {
      if (!state.concepts.has(concept)) {
        state.concepts.set(concept, api(`/v1/ads/ingredients?concept=${encodeURIComponent(concept)}&limit=1`)
          .then((page) => page.items[0]?.normalized_name ?? null)
          .catch(() => null));
      }
      return state.concepts.get(concept);
    }

    /** A concept id shown with its name, filled in when known. */
    function conceptLabel(concept) {
      const name = h('span.ad-concept-name');
      conceptName(concept).then((n) => { if (n) name.textContent = ` ${n}`; });
      return h('span.ad-concept', h('code', concept), name);
    }

    function advertiserName(id) {
      return state.advertisers.find((a) => a.id === id)?.name ?? id.slice(0, 8);
    }

    function knownSlots() {
      const slots = new Set(DEFAULT_SLOTS);
      for (const c of state.campaigns) for (const s of c.slots) slots.add(s);
      return [...slots];
    }

    // ---- the kill switch -------------------------------------------------------------------

    const switchSlot = h('div.ad-switch', { 'data-testid': 'kill-switch-card' });

    async function loadSwitch() {
      try {
        drawSwitch(await api('/v1/ads/switches/ingredient-jack'));
      } catch (error) {
        mount(switchSlot, problemBox(error));
      }
    }

    function drawSwitch(sw) {
      const button = h(`button${sw.switch ? '.danger' : ''}`, {
        type: 'button', role: 'switch', 'aria-checked': String(sw.switch), 'data-testid': 'kill-switch',
        onclick: async () => {
          button.disabled = true;
          try {
            const next = await api('/v1/ads/switches/ingredient-jack', { method: 'PUT', json: { enabled: !sw.switch } });
            toast(next.switch ? 'Ingredient targeting switched on' : 'Ingredient targeting switched off');
            drawSwitch(next);
          } catch (error) {
            button.disabled = false;
            toast(`The switch did not move: ${error.message}`, 'error');
          }
        },
      }, sw.switch ? 'Switch ingredient targeting off' : 'Switch ingredient targeting on');
      mount(switchSlot,
        h('div.ad-switch-state',
          h('strong', 'Ingredient targeting '),
          h(`span.badge.${sw.enabled ? 'ok' : 'bad'}`, { 'data-testid': 'kill-switch-state' }, sw.enabled ? 'on' : 'off')),
        h('p.muted.ad-switch-text', sw.enabled
          ? 'Ingredient jacks run. Switching off stops them on every replica within seconds; keyword and normal ads go on.'
          : !sw.setting
            ? 'Off by configuration (ads.ingredient_jack = false): the switch cannot turn it on.'
            : 'Switched off: ingredient jacks do not run; keyword and normal ads go on.'),
        button);
    }

    // ---- campaigns ---------------------------------------------------------------------------

    const listSlot = h('div', { 'data-testid': 'campaign-list' });
    const editorSlot = h('div');

    async function loadCampaigns() {
      try {
        [state.advertisers, state.campaigns] = await Promise.all([all('/v1/ads/advertisers'), all('/v1/ads/campaigns')]);
        drawList();
        drawStatsChoice();
      } catch (error) {
        mount(listSlot, problemBox(error));
      }
    }

    function targetingCell(c) {
      return h('td',
        h(`span.badge${c.targeting === 'none' ? '' : '.warn'}`, TARGETING_TEXT[c.targeting] ?? c.targeting),
        c.targeting === 'keyword' ? h('div.ad-terms', c.keywords.join('、')) : null,
        c.targeting === 'ingredient' ? h('div.ad-terms', c.concepts.map((x, i) => [i ? ', ' : '', conceptLabel(x)])) : null);
    }

    function drawList() {
      if (!state.campaigns.length) {
        return mount(listSlot, h('p.muted', { 'data-testid': 'campaigns-empty' }, 'No campaigns yet. Make the first with “New campaign”.'));
      }
      mount(listSlot, h('div.table-wrap', h('table.ad-campaigns',
        h('thead', h('tr', h('th', 'Campaign'), h('th', 'Targeting'), h('th', 'Slots'), h('th', 'Runs'), h('th', 'State'), h('th.num', 'Caps'), h('th', h('span.mab-sr', 'Actions')))),
        h('tbody', state.campaigns.map((c) => {
          const [run, cls] = runState(c);
          return h('tr', { 'data-testid': 'campaign-row', 'data-campaign-id': c.id },
            h('td', h('button.link.ad-name', { type: 'button', onclick: () => openEditor(c) }, c.name),
              h('div.muted.ad-small', advertiserName(c.advertiser_id), ` · priority ${c.priority}, weight ${c.weight}`)),
            targetingCell(c),
            h('td.ad-small', c.slots.join(', ')),
            h('td.ad-small.ad-runs', h('span', `${formatDay(c.starts_at)} –`), ' ', h('span', formatDay(c.ends_at))),
            h('td', h(`span.badge.${cls}`, run)),
            h('td.num.ad-small', c.daily_cap ? `${c.daily_cap.toLocaleString()}/day` : '—',
              c.total_cap ? h('div', `${c.total_cap.toLocaleString()} total`) : null),
            h('td.ad-actions',
              h('button.secondary', { type: 'button', onclick: () => openEditor(c) }, 'Edit'),
              h('button.secondary', { type: 'button', onclick: () => showStats(c.id), 'data-testid': 'campaign-stats-open' }, 'Stats'),
              h('button.secondary', {
                type: 'button',
                onclick: async (e) => {
                  e.target.disabled = true;
                  try {
                    await api(`/v1/ads/campaigns/${c.id}`, { method: 'PATCH', json: { status: c.status === 'paused' ? 'active' : 'paused' } });
                    await loadCampaigns();
                  } catch (error) {
                    e.target.disabled = false;
                    toast(error.message, 'error');
                  }
                },
              }, c.status === 'paused' ? 'Resume' : 'Pause')));
        })))));
    }

    // ---- the editor --------------------------------------------------------------------------

    function openEditor(campaign) {
      mount(editorSlot, editor(campaign));
      editorSlot.scrollIntoView({ block: 'start' });
      editorSlot.querySelector('#ad-name')?.focus({ preventScroll: true });
    }

    function closeEditor() { mount(editorSlot); }

    function chips(list, label, onRemove, testid) {
      const box = h('ul.ad-chips', { 'aria-label': label, 'data-testid': testid });
      const draw = () => mount(box, list.length
        ? list.map((item, i) => h('li.ad-chip',
          typeof item === 'string' ? item : item.label(),
          h('button.link.ad-chip-x', {
            type: 'button', 'aria-label': `Remove ${typeof item === 'string' ? item : item.value}`,
            onclick: () => { list.splice(i, 1); draw(); onRemove?.(); },
          }, '×')))
        : h('li.muted.ad-chip-none', 'none yet'));
      draw();
      return { box, draw };
    }

    /** The ingredient-name input: resolves as you type, offers the concepts it finds. */
    function resolver({ id, onPick, pickLabel = (c) => `Add ${c}` }) {
      const input = h(`input#${id}`, { type: 'text', autocomplete: 'off', placeholder: '玉ねぎ, ★塩（少々）, salt…', 'aria-describedby': `${id}-result` });
      const result = h(`div.ad-resolve#${id}-result`, { 'aria-live': 'polite', 'data-testid': `${id}-result` });
      let seq = 0;
      let offered = [];
      const run = debounce(async (name) => {
        const mine = ++seq;
        if (!name.trim()) { offered = []; return mount(result); }
        mount(result, h('span.muted', 'Resolving…'));
        try {
          const [resolution, byId] = await Promise.all([
            api(`/v1/ads/ingredients/resolve?name=${encodeURIComponent(name)}`),
            CONCEPT_RE.test(name.trim())
              ? api(`/v1/ads/ingredients?concept=${encodeURIComponent(name.trim())}&limit=1`).catch(() => ({ items: [] }))
              : { items: [] },
          ]);
          if (mine !== seq) return;
          offered = [...new Set([...resolution.concepts, ...byId.items.map((r) => r.concept_id)])];
          mount(result, offered.length
            ? [h('span.ad-resolved', '→ ', offered.map((c, i) => [i ? ', ' : '', conceptLabel(c)]),
              resolution.matched_by ? h('span.muted', ` (matched by ${resolution.matched_by})`) : h('span.muted', ' (concept id)')),
            h('span.ad-picks', offered.map((c) => h('button.secondary.ad-pick', {
              type: 'button', 'data-testid': 'resolve-pick', 'data-concept': c,
              onclick: () => { onPick(c, name); },
            }, pickLabel(c))))]
            : h('span.ad-unresolved', 'No concept: the table has no ', h('code', resolution.keys_tried.join(' / ') || name),
              '.'));
        } catch (error) {
          if (mine === seq) mount(result, problemBox(error));
        }
      }, RESOLVE_DELAY_MS);
      input.addEventListener('input', () => run(input.value));
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          if (offered.length === 1) onPick(offered[0], input.value);
        }
      });
      const reset = () => { input.value = ''; offered = []; seq++; mount(result); };
      return { input, result, reset, stop: run.cancel };
    }

    function editor(campaign) {
      const isNew = !campaign;
      const now = Date.now();
      const c = campaign ?? {
        advertiser_id: state.advertisers[0]?.id ?? '', name: '', starts_at: new Date(now - (now % HOUR)).toISOString(),
        ends_at: new Date(now - (now % HOUR) + 30 * 24 * HOUR).toISOString(), slots: ['recipe_top'], priority: 0, weight: 1,
        daily_cap: null, total_cap: null, status: 'active', targeting: 'keyword', keywords: [], concepts: [],
      };
      const keywords = [...c.keywords];
      const concepts = c.concepts.map((value) => ({ value, label: () => conceptLabel(value) }));
      const errorSlot = h('div');

      // Advertiser: a choice, or a new one made on the spot.
      const advertiser = h('select#ad-advertiser', { required: true },
        state.advertisers.length ? null : h('option', { value: '' }, '— add one first —'),
        state.advertisers.map((a) => h('option', { value: a.id, selected: a.id === c.advertiser_id }, a.name)));
      const newAdvertiser = h('input#ad-new-advertiser', { type: 'text', placeholder: '新しい広告主', 'aria-label': 'New advertiser name' });
      const addAdvertiser = async () => {
        if (!newAdvertiser.value.trim()) return newAdvertiser.focus();
        try {
          const made = await api('/v1/ads/advertisers', { json: { name: newAdvertiser.value.trim() } });
          state.advertisers.push(made);
          advertiser.querySelector('option[value=""]')?.remove();
          advertiser.append(h('option', { value: made.id }, made.name));
          advertiser.value = made.id;
          newAdvertiser.value = '';
          toast(`Advertiser ${made.name} added`);
        } catch (error) {
          mount(errorSlot, problemBox(error));
        }
      };
      newAdvertiser.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); addAdvertiser(); } });

      const name = h('input#ad-name', { type: 'text', required: true, value: c.name, maxlength: 200 });
      const starts = h('input#ad-starts', { type: 'datetime-local', required: true, value: toLocalInput(c.starts_at) });
      const ends = h('input#ad-ends', { type: 'datetime-local', required: true, value: toLocalInput(c.ends_at) });
      const slotBoxes = knownSlots().map((slot) => h('label.ad-check',
        h('input', { type: 'checkbox', name: 'slots', value: slot, checked: c.slots.includes(slot), id: `ad-slot-${slot}` }), ` ${slot}`));

      // Targeting and its terms.
      const radios = ['keyword', 'ingredient', 'none'].map((t) => h('label.ad-check',
        h('input', { type: 'radio', name: 'targeting', value: t, id: `ad-targeting-${t}`, checked: c.targeting === t, onchange: () => showTerms() }),
        ` ${t === 'none' ? 'none (normal ads)' : `${t}`}`));
      const keywordChips = chips(keywords, 'Keywords', null, 'keyword-chips');
      const keywordInput = h('input#ad-keyword-input', { type: 'text', autocomplete: 'off', placeholder: 'カレー' });
      const addKeyword = (focus = true) => {
        const word = keywordInput.value.trim();
        if (word && !keywords.includes(word)) { keywords.push(word); keywordChips.draw(); }
        keywordInput.value = '';
        if (focus) keywordInput.focus();
      };
      keywordInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); addKeyword(); } });
      const keywordBox = h('fieldset.ad-terms-box',
        h('legend', 'Keywords'),
        h('p.muted.ad-hint', 'Fires on searches whose keyword contains one of these.'),
        keywordChips.box,
        h('div.row', h('label.mab-sr', { for: 'ad-keyword-input' }, 'Keyword'), keywordInput,
          h('button.secondary', { type: 'button', onclick: addKeyword, 'data-testid': 'keyword-add' }, 'Add keyword')));

      const conceptChips = chips(concepts, 'Concepts', null, 'concept-chips');
      const ingredient = resolver({
        id: 'ad-ingredient-input',
        onPick: (concept) => {
          if (!concepts.some((x) => x.value === concept)) {
            concepts.push({ value: concept, label: () => conceptLabel(concept) });
            conceptChips.draw();
          }
          ingredient.reset();
          ingredient.input.focus();
        },
      });
      stops.add(ingredient.stop);
      const ingredientBox = h('fieldset.ad-terms-box',
        h('legend', 'Ingredients'),
        h('p.muted.ad-hint', 'Fires on recipe pages with one of these concepts, however the recipe spells it. Type a name; it resolves as delivery would.'),
        conceptChips.box,
        h('div.ad-field.ad-resolve-field', h('label', { for: 'ad-ingredient-input' }, 'Ingredient name'), ingredient.input),
        ingredient.result);
      const noneBox = h('p.muted.ad-terms-box', 'A normal ad: shown in its slots when no jack fires.');
      const termsSlot = h('div');
      const targeting = () => radios.map((r) => r.querySelector('input')).find((r) => r.checked)?.value ?? 'none';
      const showTerms = () => mount(termsSlot, { keyword: keywordBox, ingredient: ingredientBox, none: noneBox }[targeting()]);
      showTerms();

      const priority = h('input#ad-priority', { type: 'number', step: 1, value: c.priority });
      const weight = h('input#ad-weight', { type: 'number', min: 1, max: 1000, step: 1, value: c.weight });
      const dailyCap = h('input#ad-daily-cap', { type: 'number', min: 1, step: 1, value: c.daily_cap ?? '', placeholder: 'none' });
      const totalCap = h('input#ad-total-cap', { type: 'number', min: 1, step: 1, value: c.total_cap ?? '', placeholder: 'none' });
      const status = h('select#ad-status',
        h('option', { value: 'active', selected: c.status === 'active' }, 'active'),
        h('option', { value: 'paused', selected: c.status === 'paused' }, 'paused'));

      // A new campaign gets its first creative with it: without one nothing is delivered.
      const creativeTitle = h('input#ad-creative-title', { type: 'text', placeholder: '今夜はカレー', maxlength: 200 });
      const creativeLink = h('input#ad-creative-link', { type: 'url', placeholder: 'https://example.com/' });
      const creativeImage = h('input#ad-creative-image', { type: 'file', accept: 'image/*' });
      const firstCreative = isNew ? h('fieldset.ad-terms-box',
        h('legend', 'First creative'),
        h('div.ad-grid',
          fieldInput('ad-creative-title', 'Title', creativeTitle),
          fieldInput('ad-creative-link', 'Link', creativeLink),
          fieldInput('ad-creative-image', 'Image (optional)', creativeImage))) : null;

      const inputsByField = {
        advertiser_id: advertiser, name, starts_at: starts, ends_at: ends, priority, weight,
        daily_cap: dailyCap, total_cap: totalCap, status, keywords: keywordInput, concepts: ingredient.input,
      };

      const body = () => ({
        advertiser_id: advertiser.value,
        name: name.value,
        starts_at: fromLocalInput(starts.value),
        ends_at: fromLocalInput(ends.value),
        slots: slotBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
        priority: Number(priority.value || 0),
        weight: Number(weight.value || 1),
        daily_cap: dailyCap.value ? Number(dailyCap.value) : null,
        total_cap: totalCap.value ? Number(totalCap.value) : null,
        status: status.value,
        targeting: targeting(),
        keywords: targeting() === 'keyword' ? keywords : [],
        concepts: targeting() === 'ingredient' ? concepts.map((x) => x.value) : [],
      });

      const save = h('button', { type: 'submit', 'data-testid': 'campaign-save' }, isNew ? 'Create campaign' : 'Save');
      const form = h('form.card.ad-editor', {
        'data-testid': 'campaign-editor', 'aria-labelledby': 'ad-editor-title', novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          mount(errorSlot);
          for (const input of Object.values(inputsByField)) input.removeAttribute('aria-invalid');
          // A keyword typed but not yet added counts.
          if (targeting() === 'keyword' && keywordInput.value.trim()) addKeyword(false);
          save.disabled = true;
          try {
            const saved = isNew
              ? await api('/v1/ads/campaigns', { json: body() })
              : await api(`/v1/ads/campaigns/${c.id}`, { method: 'PUT', json: body() });
            if (isNew && creativeTitle.value.trim()) {
              try {
                const creative = await api(`/v1/ads/campaigns/${saved.id}/creatives`, { json: { title: creativeTitle.value, link: creativeLink.value } });
                if (creativeImage.files[0]) {
                  await api(`/v1/ads/creatives/${creative.id}/image`, { method: 'PUT', body: creativeImage.files[0], headers: { 'Content-Type': creativeImage.files[0].type || 'application/octet-stream' } });
                }
              } catch (error) {
                toast(`The campaign is saved, but not its creative: ${error.message}`, 'error');
              }
            }
            toast(isNew ? `Campaign ${saved.name} created` : `Campaign ${saved.name} saved`);
            await loadCampaigns();
            openEditor(state.campaigns.find((x) => x.id === saved.id) ?? saved);
          } catch (error) {
            mount(errorSlot, problemBox(error));
            for (const f of error.problem?.errors ?? []) {
              const top = f.field.replace(/^\//, '').split('/')[0];
              inputsByField[top]?.setAttribute('aria-invalid', 'true');
            }
            errorSlot.scrollIntoView({ block: 'nearest' });
          } finally {
            save.disabled = false;
          }
        },
      },
      h('div.row.ad-editor-head',
        h('h2#ad-editor-title', isNew ? 'New campaign' : ['Campaign ', h('span.ad-editor-name', c.name)]),
        h('button.secondary.ad-close', { type: 'button', onclick: closeEditor }, 'Close')),
      h('div.ad-grid',
        h('div.ad-field',
          h('label', { for: 'ad-advertiser' }, 'Advertiser'),
          advertiser,
          h('div.row.ad-inline', newAdvertiser, h('button.secondary', { type: 'button', onclick: addAdvertiser, 'data-testid': 'advertiser-add' }, 'Add advertiser'))),
        fieldInput('ad-name', 'Name', name),
        fieldInput('ad-starts', 'Starts', starts),
        fieldInput('ad-ends', 'Ends', ends)),
      h('fieldset.ad-slots', h('legend', 'Slots'), h('div.row', slotBoxes)),
      h('fieldset.ad-targeting', h('legend', 'Targeting'), h('div.row', radios)),
      termsSlot,
      h('div.ad-grid',
        fieldInput('ad-priority', 'Priority', priority, 'Higher wins.'),
        fieldInput('ad-weight', 'Weight', weight, 'Shares among equals, 1 to 1000.'),
        fieldInput('ad-daily-cap', 'Daily cap', dailyCap, 'Impressions a day, paced evenly.'),
        fieldInput('ad-total-cap', 'Total cap', totalCap),
        fieldInput('ad-status', 'Status', status)),
      firstCreative,
      errorSlot,
      h('div.row.ad-buttons', save,
        h('button.secondary', { type: 'button', onclick: closeEditor }, 'Cancel'),
        isNew ? null : h('button.secondary', { type: 'button', onclick: () => showStats(c.id) }, 'Stats'),
        isNew ? null : h('button.danger.ad-delete', {
          type: 'button',
          onclick: async () => {
            if (!window.confirm(`Delete the campaign “${c.name}” and its creatives? Its counts stay.`)) return;
            try {
              await api(`/v1/ads/campaigns/${c.id}`, { method: 'DELETE' });
              toast(`Campaign ${c.name} deleted`);
              closeEditor();
              loadCampaigns();
            } catch (error) {
              mount(errorSlot, problemBox(error));
            }
          },
        }, 'Delete')),
      isNew ? null : creativesSection(c));
      return form;
    }

    // ---- creatives -----------------------------------------------------------------------

    function creativesSection(campaign) {
      const listBox = h('div', { 'data-testid': 'creative-list' });
      const errorSlot = h('div');
      const load = async () => {
        try {
          const creatives = await api(`/v1/ads/campaigns/${campaign.id}/creatives`);
          mount(listBox, creatives.length
            ? h('ul.ad-creatives', creatives.map((cr) => creativeItem(cr, load)))
            : h('p.ad-warn', 'No creatives: this campaign cannot be delivered until it has one.'));
        } catch (error) {
          mount(listBox, problemBox(error));
        }
      };
      const title = h('input#ad-new-creative-title', { type: 'text', maxlength: 200 });
      const link = h('input#ad-new-creative-link', { type: 'url', placeholder: 'https://' });
      const payload = h('textarea.code#ad-new-creative-payload', { rows: 2, placeholder: '{"badge": "PR"}' });
      const image = h('input#ad-new-creative-image', { type: 'file', accept: 'image/*' });
      const add = async () => {
        mount(errorSlot);
        let json = {};
        if (payload.value.trim()) {
          try { json = JSON.parse(payload.value); } catch (e) { return mount(errorSlot, problemBox(new Error(`The payload is not JSON: ${e.message}`))); }
        }
        try {
          const made = await api(`/v1/ads/campaigns/${campaign.id}/creatives`, { json: { title: title.value, link: link.value, payload: json } });
          if (image.files[0]) {
            await api(`/v1/ads/creatives/${made.id}/image`, { method: 'PUT', body: image.files[0], headers: { 'Content-Type': image.files[0].type || 'application/octet-stream' } });
          }
          title.value = ''; link.value = ''; payload.value = ''; image.value = '';
          toast('Creative added');
          load();
        } catch (error) {
          mount(errorSlot, problemBox(error));
        }
      };
      load();
      return h('section.ad-creatives-box', { 'aria-labelledby': 'ad-creatives-title' },
        h('h3#ad-creatives-title', 'Creatives'),
        listBox,
        h('fieldset.ad-terms-box',
          h('legend', 'Add a creative'),
          h('div.ad-grid',
            fieldInput('ad-new-creative-title', 'Title', title),
            fieldInput('ad-new-creative-link', 'Link', link),
            fieldInput('ad-new-creative-image', 'Image (optional)', image),
            fieldInput('ad-new-creative-payload', 'Payload JSON (optional)', payload)),
          errorSlot,
          h('button.secondary', { type: 'button', onclick: add, 'data-testid': 'creative-add' }, 'Add creative')));
    }

    function creativeItem(cr, reload) {
      const image = h('input', { type: 'file', accept: 'image/*', id: `ad-image-${cr.id}`, class: 'ad-image-input' });
      image.addEventListener('change', async () => {
        const file = image.files[0];
        if (!file) return;
        try {
          await api(`/v1/ads/creatives/${cr.id}/image`, { method: 'PUT', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' } });
          toast('Image set');
          reload();
        } catch (error) {
          toast(`The image was refused: ${error.message}`, 'error');
        }
      });
      return h('li.ad-creative', { 'data-creative-id': cr.id },
        cr.image_url ? h('img.thumb.ad-creative-img', { src: cr.image_url, alt: '' }) : h('div.ad-creative-img.ad-noimg', 'no image'),
        h('div.ad-creative-body',
          h('strong', cr.title),
          h('div.ad-small', h('a', { href: cr.link, target: '_blank', rel: 'noopener noreferrer' }, cr.link)),
          Object.keys(cr.payload ?? {}).length ? h('code.ad-small', JSON.stringify(cr.payload)) : null,
          h('div.row.ad-small',
            h('label', { for: `ad-image-${cr.id}` }, cr.image_url ? 'Replace image' : 'Add image'), image,
            h('button.link', {
              type: 'button',
              onclick: async () => {
                if (!window.confirm(`Delete the creative “${cr.title}”?`)) return;
                try { await api(`/v1/ads/creatives/${cr.id}`, { method: 'DELETE' }); reload(); } catch (error) { toast(error.message, 'error'); }
              },
            }, 'Delete'))));
    }

    // ---- stats ---------------------------------------------------------------------------

    const statsChoice = h('select#ad-stats-campaign', { onchange: () => statsChoice.value && showStats(statsChoice.value) });
    const statsRange = h('select#ad-stats-range', { onchange: () => statsChoice.value && showStats(statsChoice.value) },
      h('option', { value: '24' }, 'last 24 hours'),
      h('option', { value: '72' }, 'last 3 days'),
      h('option', { value: '168' }, 'last 7 days'));
    const statsSlot = h('div', { 'data-testid': 'campaign-stats' });
    const statsSection = h('section.card', { 'aria-labelledby': 'ad-stats-title' },
      h('h2#ad-stats-title', 'Stats by hour'),
      h('div.row.ad-stats-pick',
        h('label', { for: 'ad-stats-campaign' }, 'Campaign'), statsChoice,
        h('label', { for: 'ad-stats-range' }, 'Period'), statsRange),
      statsSlot);
    let stopStats = null;

    function drawStatsChoice() {
      const current = statsChoice.value;
      mount(statsChoice, h('option', { value: '' }, state.campaigns.length ? 'Choose a campaign' : 'No campaigns'),
        state.campaigns.map((c) => h('option', { value: c.id, selected: c.id === current }, c.name)));
      if (!current) mount(statsSlot, h('p.muted', 'Choose a campaign to see its impressions and clicks by hour.'));
    }

    function showStats(id) {
      statsChoice.value = id;
      if (stopStats) { stopStats(); stops.delete(stopStats); }
      mount(statsSlot, h('p.loading', 'Loading…'));
      stopStats = poll(async () => {
        const hours = Number(statsRange.value);
        const to = new Date(Math.ceil(Date.now() / HOUR) * HOUR);
        const from = new Date(to.getTime() - hours * HOUR);
        try {
          const stats = await api(`/v1/ads/campaigns/${id}/stats?from=${from.toISOString()}&to=${to.toISOString()}`);
          mount(statsSlot, statsView(stats, state.campaigns.find((c) => c.id === id), from, hours));
        } catch (error) {
          mount(statsSlot, problemBox(error));
        }
      }, STATS_POLL_MS);
      stops.add(stopStats);
      statsSection.scrollIntoView({ block: 'start' });
    }

    function statsView(stats, campaign, from, hours) {
      // Every hour of the period, counted or not.
      const byHour = new Map(stats.hours.map((x) => [new Date(x.hour).getTime(), x]));
      const starts = campaign ? new Date(campaign.starts_at).getTime() : -Infinity;
      const ends = campaign ? new Date(campaign.ends_at).getTime() : Infinity;
      const labels = []; const impressions = []; const clicks = []; const pace = [];
      for (let i = 0; i < hours; i++) {
        const t = from.getTime() + i * HOUR;
        const d = new Date(t);
        // Thinned to about ten labels: over days each names its date.
        labels.push(hours > 24 || d.getHours() === 0 || i === 0 ? `${d.getMonth() + 1}/${d.getDate()} ${pad(d.getHours())}h` : `${pad(d.getHours())}h`);
        impressions.push(byHour.get(t)?.impressions ?? 0);
        clicks.push(byHour.get(t)?.clicks ?? 0);
        // The daily cap spread evenly over the day: the hour's share of it, while the campaign runs.
        const running = Math.max(0, Math.min(t + HOUR, ends) - Math.max(t, starts)) / HOUR;
        pace.push(stats.daily_cap && running > 0 ? (stats.daily_cap / 24) * running : null);
      }
      const series = [{ name: 'Impressions', values: impressions, kind: 'bar', className: 'series-a' }];
      if (stats.daily_cap) series.push({ name: 'Pace (daily cap ÷ 24)', values: pace, kind: 'line', className: 'series-pace' });
      const ctr = stats.impressions ? `${((stats.clicks / stats.impressions) * 100).toFixed(2)}\u00a0%` : '—';
      return h('div.ad-stats',
        h('div.ad-totals',
          h('div.ad-total', h('span.ad-total-value', { 'data-testid': 'stats-impressions' }, stats.impressions.toLocaleString()), h('span', 'impressions')),
          h('div.ad-total', h('span.ad-total-value', { 'data-testid': 'stats-clicks' }, stats.clicks.toLocaleString()), h('span', 'clicks')),
          h('div.ad-total', h('span.ad-total-value', ctr), h('span', 'click rate')),
          h('div.ad-total', h('span.ad-total-value', stats.daily_cap ? stats.daily_cap.toLocaleString() : '—'), h('span', 'daily cap'))),
        h('div.ad-chart', chart({
          series, labels, height: 200,
          title: `Impressions per hour${stats.daily_cap ? ' with the pace of the daily cap' : ''}, ${campaign?.name ?? stats.campaign_id}`,
        })),
        stats.daily_cap ? null : h('p.muted.ad-hint', 'No daily cap, so no pace line.'),
        h('p.muted.ad-hint', 'Counts as of the last flush (every few seconds); refreshed every 15 s.'),
        stats.days.length
          ? h('div.table-wrap', h('table.ad-days',
            h('thead', h('tr', h('th', 'Day'), h('th.num', 'Impressions'), h('th.num', 'Clicks'), h('th.num', 'Pace'), h('th.num', 'Of pace'))),
            h('tbody', stats.days.map((d) => h('tr',
              h('td', d.day), h('td.num', d.impressions.toLocaleString()), h('td.num', d.clicks.toLocaleString()),
              h('td.num', d.pace === null || d.pace === undefined ? '—' : d.pace.toLocaleString()),
              h('td.num', d.pace ? `${Math.round((d.impressions / d.pace) * 100)}\u00a0%` : '—'))))))
          : h('p.muted', 'Nothing delivered in this period.'));
    }

    // ---- delivery preview ---------------------------------------------------------------------

    const previewSlots = h('div.row.ad-preview-slots');
    const drawPreviewSlots = () => mount(previewSlots, knownSlots().map((slot) => h('label.ad-check',
      h('input', { type: 'checkbox', name: 'preview-slot', value: slot, checked: ['search_top', 'recipe_top'].includes(slot) }), ` ${slot}`)));
    const previewKeyword = h('input#ad-preview-keyword', { type: 'text', placeholder: '簡単カレー', autocomplete: 'off' });
    const previewNames = h('textarea#ad-preview-ingredients', { rows: 3, placeholder: '玉ねぎ\n★塩（少々）\nにんじん' });
    const previewRecipe = h('input#ad-preview-recipe', { type: 'text', placeholder: 'a new one each time', pattern: '[A-Za-z0-9_\\-]{1,64}', autocomplete: 'off' });
    const previewResult = h('div', { 'data-testid': 'preview-result', 'aria-live': 'polite' });
    const previewForm = h('form.ad-preview', {
      onsubmit: async (event) => {
        event.preventDefault();
        const slots = [...previewSlots.querySelectorAll('input:checked')].map((i) => i.value);
        if (!slots.length) return mount(previewResult, h('p.problem', { role: 'alert' }, 'Choose at least one slot.'));
        const q = new URLSearchParams({ slot: slots.join(',') });
        if (previewKeyword.value.trim()) q.set('keyword', previewKeyword.value.trim());
        const names = previewNames.value.split(/[\n,，、]/).map((n) => n.trim()).filter(Boolean);
        const headers = {};
        if (names.length) {
          // Delivery caches a recipe's concepts by its id and names: a fresh id resolves the
          // names again, so a spelling added a moment ago counts.
          q.set('recipe_id', previewRecipe.value.trim() || `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
          headers['X-Recipe-Ingredients'] = names.map(encodeURIComponent).join(',');
        }
        mount(previewResult, h('p.loading', 'Asking…'));
        try {
          const response = await api(`/v1/ads?${q}`, { headers, as: 'response' });
          const delivery = await response.json();
          mount(previewResult, deliveryView(delivery, slots, response.headers.get('Ads-Warning'), response.headers.get('Ads-Ingredients-Truncated')));
          previewResult.scrollIntoView({ block: 'nearest' });
        } catch (error) {
          mount(previewResult, problemBox(error));
        }
      },
    },
    h('fieldset', h('legend', 'Slots of the page'), previewSlots),
    h('div.ad-grid',
      fieldInput('ad-preview-keyword', 'Search keyword', previewKeyword),
      fieldInput('ad-preview-ingredients', 'Recipe ingredients', previewNames, 'One per line, as the recipe writes them.'),
      fieldInput('ad-preview-recipe', 'Recipe id (optional)', previewRecipe, 'A recipe’s concepts are cached by its id and names; leave it empty to resolve them afresh.')),
    h('div.row', h('button', { type: 'submit', 'data-testid': 'preview-button' }, 'Preview delivery'),
      h('span.muted.ad-hint', 'A preview is a real delivery: it counts impressions, and names nothing matched go to the list below.')));

    function deliveryView(delivery, slots, warning, truncated) {
      const bySlot = new Map(delivery.ads.map((ad) => [ad.slot, ad]));
      return h('div.ad-delivery',
        warning ? h('p.ad-warn', 'Ignored: ', warning) : null,
        truncated ? h('p.ad-warn', `Only some ingredient names were used (${truncated}).`) : null,
        h('p.ad-small', 'Recipe concepts: ',
          delivery.concepts.length ? delivery.concepts.map((c, i) => [i ? ', ' : '', conceptLabel(c)]) : h('span.muted', 'none'),
          delivery.ingredients_skipped ? h('span.muted', ` (ingredient step skipped: ${delivery.ingredients_skipped.replace(/_/g, ' ')})`) : null),
        h('div.table-wrap', h('table.ad-preview-table',
          h('thead', h('tr', h('th', 'Slot'), h('th', 'Ad'), h('th', 'Campaign'), h('th', 'Targeting'))),
          h('tbody', slots.map((slot) => {
            const ad = bySlot.get(slot);
            if (!ad) return h('tr', { 'data-testid': 'preview-empty-slot' }, h('td', h('code', slot)), h('td.muted', { colspan: 3 }, 'nothing to show'));
            const campaign = state.campaigns.find((c) => c.id === ad.campaign_id);
            return h('tr', { 'data-testid': 'preview-ad', 'data-campaign-id': ad.campaign_id, 'data-targeting': ad.targeting },
              h('td', h('code', slot)),
              h('td', h('div.ad-preview-ad',
                ad.image_url ? h('img.thumb.ad-preview-img', { src: ad.image_url, alt: '' }) : null,
                h('span', ad.title))),
              h('td', campaign?.name ?? ad.campaign_id.slice(0, 8)),
              h('td', h(`span.badge${ad.targeting === 'none' ? '' : '.warn'}`, TARGETING_TEXT[ad.targeting] ?? ad.targeting)));
          })))));
    }

    // ---- unmatched ingredient names ---------------------------------------------------------

    const unmatchedSlot = h('div', { 'data-testid': 'unmatched-list' });
    const added = new Map(); // key → concept, added this session

    async function loadUnmatched() {
      try {
        const rows = await api('/v1/ads/ingredients/unmatched?limit=100');
        if (!rows.length) return mount(unmatchedSlot, h('p.muted', 'No unmatched names: every ingredient name seen so far resolved.'));
        mount(unmatchedSlot, h('ul.ad-unmatched', rows.map((row) => h('li.ad-unmatched-row', { 'data-testid': 'unmatched-row', 'data-key': row.key },
          h('div.ad-unmatched-name',
            h('strong.ad-written', row.example),
            row.key !== row.example ? h('span.muted.ad-small', ' key ', h('code', row.key)) : null,
            h('div.muted.ad-small', `${row.count.toLocaleString()} recipe${row.count === 1 ? '' : 's'} · last seen ${formatTime(row.last_seen)}`)),
          h('div.ad-add-cell', added.has(row.key)
            ? h('span.badge.ok', `added → ${added.get(row.key)}`)
            : spellingForm(row.example, row.key))))));
      } catch (error) {
        mount(unmatchedSlot, problemBox(error));
      }
    }

    /** Adds `written` (or a typed spelling) to the table as a spelling of the picked concept. */
    function spellingForm(written, key) {
      const box = h('div.ad-spelling');
      const idBase = key ? `ad-spell-${[...key].map((ch) => ch.codePointAt(0).toString(36)).join('')}` : 'ad-spell-new';
      const writtenInput = written === null ? h(`input#${idBase}-written`, { type: 'text', placeholder: 'しんたま', autocomplete: 'off' }) : null;
      const open = h('button.secondary', { type: 'button', 'data-testid': 'unmatched-add', onclick: () => { mount(box, form); pick.input.focus(); } }, 'Add spelling…');
      const pick = resolver({
        id: `${idBase}-concept`,
        pickLabel: (c) => `Add as ${c}`,
        onPick: async (concept, typed) => {
          const spelling = written ?? writtenInput.value.trim();
          if (!spelling) return writtenInput.focus();
          try {
            const normalized = (await conceptName(concept)) ?? typed.trim();
            const csv = `normalized_name,written_name,concept_id\n${[normalized, spelling, concept].map(csvField).join(',')}\n`;
            const report = await api('/v1/ads/ingredients/import', { body: csv, headers: { 'Content-Type': 'text/csv; charset=utf-8' } });
            if (report.errors.length) {
              mount(box, form, h('div.problem', { role: 'alert' }, h('strong', 'Not added'),
                h('ul', report.errors.map((e) => h('li', h('code', e.column), ': ', e.message)))));
              return;
            }
            toast(`「${spelling}」 now means ${concept}`);
            if (key) {
              added.set(key, concept);
              mount(box, h('span.badge.ok', { 'data-testid': 'unmatched-added' }, `added → ${concept}`));
            } else {
              writtenInput.value = '';
              pick.reset();
              mount(box, form, h('p.ad-ok', `Added 「${spelling}」 → ${concept}.`));
            }
          } catch (error) {
            mount(box, form, problemBox(error));
          }
        },
      });
      stops.add(pick.stop);
      const form = h('div.ad-spelling-form',
        writtenInput ? [h('label', { for: writtenInput.id }, 'Spelling'), writtenInput] : null,
        h('label', { for: pick.input.id }, written === null ? 'Means the same as' : `「${written}」 means the same as`),
        pick.input, pick.result,
        key ? h('button.link', { type: 'button', onclick: () => mount(box, open) }, 'Cancel') : null);
      mount(box, key ? open : form);
      return box;
    }

    // ---- the page ---------------------------------------------------------------------------

    mount(root,
      h('h1', 'Ads'),
      h('section.card.ad-switch-card', { 'aria-labelledby': 'ad-switch-title' },
        h('h2.mab-sr#ad-switch-title', 'Kill switch'),
        switchSlot),
      h('section.card', { 'aria-labelledby': 'ad-campaigns-title' },
        h('div.row.ad-head',
          h('h2#ad-campaigns-title', 'Campaigns'),
          h('button', { type: 'button', 'data-testid': 'campaign-new', onclick: () => openEditor(null) }, 'New campaign')),
        listSlot),
      editorSlot,
      statsSection,
      h('section.card', { 'aria-labelledby': 'ad-preview-title' },
        h('h2#ad-preview-title', 'Delivery preview'),
        previewForm, previewResult),
      h('section.card', { 'aria-labelledby': 'ad-unmatched-title' },
        h('div.row.ad-head',
          h('h2#ad-unmatched-title', 'Unmatched ingredient names'),
          h('button.secondary', { type: 'button', onclick: () => loadUnmatched() }, 'Refresh')),
        h('p.muted.ad-hint', 'Names recipes used that resolved to no concept, most seen first (as of the last flush of counts). A spelling added here matches in every recipe resolved from now on; a recipe already cached keeps its concepts until its cache entry expires.'),
        unmatchedSlot,
        h('h3', 'Add any spelling'),
        spellingForm(null, null)));

    loadSwitch();
    await loadCampaigns();
    drawPreviewSlots();
    loadUnmatched();

    return () => { for (const stop of stops) stop(); stops.clear(); };
  },
};
