// Jobs (admin): every queue's backlog and last hour, the dead letters with retry and discard,
// and a chart of attempts and failures.
//
// API: GET /v1/admin/queues (polled), GET /v1/admin/jobs?queue=&state=&after=&limit=,
// POST /v1/admin/jobs/{id}/retry, DELETE /v1/admin/jobs/{id}.

import { api, ApiError } from '../lib/api.js';
import { h, mount, toast, problemBox, formatTime, poll } from '../lib/dom.js';
import { chart } from '../lib/chart.js';

const POLL_MS = 5000;
const PAGE = 50;
const STATES = [
  { value: 'failed', label: 'Dead (failed for good)' },
  { value: 'requeued', label: 'Re-queued' },
  { value: 'discarded', label: 'Discarded' },
];

const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

function sum(values) {
  return values.reduce((a, b) => a + (Number(b) || 0), 0);
}

function attemptsOf(m) {
  return (m?.succeeded ?? 0) + (m?.retried ?? 0) + (m?.dead ?? 0);
}

function failuresOf(m) {
  return (m?.retried ?? 0) + (m?.dead ?? 0);
}

function stat(label, value, kind, testid) {
  return h('div.jobs-stat', { 'data-testid': testid },
    h('span.jobs-stat-value', { class: kind ? `jobs-stat-value ${kind}` : null }, String(value ?? 0)),
    h('span.jobs-stat-label', label));
}

function payloadText(payload) {
  if (typeof payload === 'string') return payload;
  try { return JSON.stringify(payload, null, 2); } catch { return String(payload); }
}

export default {
  async render(root, ctx) {
    const initialQueue = ctx.params.get('queue') ?? '';
    const initialState = STATES.some((s) => s.value === ctx.params.get('state')) ? ctx.params.get('state') : 'failed';
    const state = {
      queues: [],
      queuesError: null,
      updatedAt: null,
      chartQueue: '',
      filterQueue: initialQueue,
      filterState: initialState,
      items: [],
      next: null,
      listError: null,
      listLoading: false,
      pagesLoaded: 0,
      busy: new Set(),
      bulkBusy: false,
      lastDeadTotal: null,
      disposed: false,
    };

    // ---- Layout ------------------------------------------------------------------------
    const updated = h('span.muted.jobs-updated', { 'aria-live': 'off' });
    const queuesBox = h('div.jobs-queues#jobs-queues', { 'data-testid': 'queues', 'aria-live': 'polite' },
      h('p.loading', 'Loading queues…'));

    const chartQueueSelect = h('select#jobs-chart-queue', {
      onchange: () => { state.chartQueue = chartQueueSelect.value; renderCharts(); },
    });
    const chartMinutes = h('div.jobs-chart', { 'data-testid': 'jobs-chart-minutes' });
    const chartTotals = h('div.jobs-chart', { 'data-testid': 'jobs-chart-totals' });
    const chartNote = h('p.muted.jobs-chart-note');

    const queueFilter = h('select#jobs-filter-queue', {
      onchange: () => { state.filterQueue = queueFilter.value; syncUrl(); loadList(); },
    }, h('option', { value: '' }, 'All queues'));
    const stateFilter = h('select#jobs-filter-state', {
      onchange: () => { state.filterState = stateFilter.value; syncUrl(); loadList(); },
    }, STATES.map((s) => h('option', { value: s.value, selected: s.value === state.filterState }, s.label)));
    const refreshButton = h('button.secondary#jobs-refresh', { type: 'button', onclick: () => loadList() }, 'Refresh');
    const retryAllButton = h('button#jobs-retry-all', { type: 'button', 'data-testid': 'jobs-retry-all', onclick: () => retryAll() }, 'Retry all shown');
    const listStatus = h('p.muted.jobs-list-status', { role: 'status' });
    const listBox = h('div#jobs-dead', { 'data-testid': 'jobs-dead-list' });
    const moreBox = h('div.jobs-more');

    mount(root,
      h('div.jobs-head',
        h('h1', 'Jobs'),
        updated),
      h('section.card', { 'aria-labelledby': 'jobs-queues-title' },
        h('h2#jobs-queues-title', 'Queues'),
        queuesBox),
      h('section.card', { 'aria-labelledby': 'jobs-chart-title' },
        h('div.jobs-section-head',
          h('h2#jobs-chart-title', 'Attempts and failures, last hour'),
          h('div.row',
            h('label', { for: 'jobs-chart-queue' }, 'Queue'),
            chartQueueSelect)),
        chartNote,
        chartMinutes,
        h('h3.jobs-subtitle', 'Per queue'),
        chartTotals),
      h('section.card', { 'aria-labelledby': 'jobs-dead-title' },
        h('div.jobs-section-head',
          h('h2#jobs-dead-title', 'Dead letters'),
          h('div.row.jobs-filters',
            h('label', { for: 'jobs-filter-queue' }, 'Queue'), queueFilter,
            h('label', { for: 'jobs-filter-state' }, 'State'), stateFilter,
            refreshButton,
            retryAllButton)),
        listStatus,
        listBox,
        moreBox));

    function syncUrl() {
      const params = new URLSearchParams();
      if (state.filterQueue) params.set('queue', state.filterQueue);
      if (state.filterState !== 'failed') params.set('state', state.filterState);
      const query = params.toString();
      // replaceState: changing a filter should not add a history entry nor re-render the page.
      history.replaceState(null, '', `#/jobs${query ? `?${query}` : ''}`);
    }

    // ---- Queues ------------------------------------------------------------------------
    function queueNames() {
      return state.queues.map((q) => q.name);
    }

    function fillQueueSelect(select, current, allLabel) {
      const names = queueNames();
      if (current && !names.includes(current)) names.push(current);
      const wanted = ['', ...names].join('\n');
      const have = [...select.options].map((o) => o.value).join('\n');
      if (wanted !== have) {
        mount(select, h('option', { value: '' }, allLabel), names.map((n) => h('option', { value: n }, n)));
      }
      select.value = current;
    }

    function renderQueues() {
      if (state.queuesError && !state.queues.length) {
        mount(queuesBox, problemBox(state.queuesError));
        return;
      }
      if (!state.queues.length) {
        mount(queuesBox, h('p.muted', 'No queues are declared.'));
        return;
      }
      mount(queuesBox,
        state.queuesError ? problemBox(state.queuesError) : null,
        h('div.jobs-queue-grid', state.queues.map((q) => {
          const hour = q.last_hour ?? {};
          return h('article.jobs-queue', { 'data-testid': `queue-${q.name}`, dataset: { queue: q.name } },
            h('div.jobs-queue-head',
              h('h3', q.name),
              q.dead > 0
                ? h('button.link.jobs-dead-link', {
                  type: 'button',
                  onclick: () => { state.filterQueue = q.name; state.filterState = 'failed'; queueFilter.value = q.name; stateFilter.value = 'failed'; syncUrl(); loadList(); listBox.scrollIntoView({ block: 'start' }); },
                }, `${q.dead} dead`)
                : null),
            h('div.jobs-stats',
              stat('waiting', q.waiting, null, `queue-${q.name}-waiting`),
              stat('scheduled', q.scheduled, q.scheduled > 0 ? 'warn' : null, `queue-${q.name}-scheduled`),
              stat('in flight', q.in_flight, null, `queue-${q.name}-in-flight`),
              stat('dead', q.dead, q.dead > 0 ? 'bad' : null, `queue-${q.name}-dead`)),
            h('p.jobs-hour',
              h('span.muted', 'Last hour: '),
              h('span.badge.ok', { title: 'Succeeded in the last hour' }, `${hour.succeeded ?? 0} ok`), ' ',
              h('span', { class: `badge${hour.retried ? ' warn' : ''}`, title: 'Failed and scheduled to retry' }, `${hour.retried ?? 0} retried`), ' ',
              h('span', { class: `badge${hour.dead ? ' bad' : ''}`, title: 'Failed for good' }, `${hour.dead ?? 0} dead`)));
        })));
    }

    function minutesFor(name) {
      const queues = name ? state.queues.filter((q) => q.name === name) : state.queues;
      const length = Math.max(0, ...queues.map((q) => q.minutes?.length ?? 0));
      const rows = [];
      for (let i = 0; i < length; i++) {
        // Align from the newest minute backwards, in case queues answer different lengths.
        const entries = queues.map((q) => q.minutes?.[(q.minutes.length - length) + i]).filter(Boolean);
        rows.push({
          minute: entries[0]?.minute,
          attempts: sum(entries.map(attemptsOf)),
          failures: sum(entries.map(failuresOf)),
        });
      }
      return rows;
    }

    function renderCharts() {
      fillQueueSelect(chartQueueSelect, state.chartQueue, 'All queues');
      if (!state.queues.length) {
        mount(chartMinutes, h('p.muted', state.queuesError ? 'No statistics to chart.' : 'No queues yet.'));
        mount(chartTotals);
        mount(chartNote);
        return;
      }
      const rows = minutesFor(state.chartQueue);
      const attempts = rows.map((r) => r.attempts);
      const failures = rows.map((r) => r.failures);
      const labels = rows.map((r) => (r.minute ? minuteFormat.format(new Date(r.minute)) : ''));
      const totalAttempts = sum(attempts);
      const totalFailures = sum(failures);
      const which = state.chartQueue ? `queue ${state.chartQueue}` : 'all queues';
      mount(chartNote, `${totalAttempts} attempts and ${totalFailures} failures (retried or dead) in ${which}, per minute.`);
      mount(chartMinutes, rows.length
        ? chart({
          title: `Attempts and failures per minute over the last hour, ${which}: ${totalAttempts} attempts, ${totalFailures} failures`,
          labels,
          height: 190,
          series: [
            { name: 'attempts', values: attempts, kind: 'bar', className: 'series-b' },
            { name: 'failures', values: failures, kind: 'bar', className: 'series-a' },
          ],
        })
        : h('p.muted', 'No minutes reported.'));
      const queues = state.queues;
      mount(chartTotals, chart({
        title: `Attempts and failures per queue over the last hour: ${queues.map((q) => `${q.name} ${attemptsOf(q.last_hour)} attempts, ${failuresOf(q.last_hour)} failures`).join('; ')}`,
        labels: queues.map((q) => q.name),
        height: 170,
        series: [
          { name: 'attempts', values: queues.map((q) => attemptsOf(q.last_hour)), kind: 'bar', className: 'series-b' },
          { name: 'failures', values: queues.map((q) => failuresOf(q.last_hour)), kind: 'bar', className: 'series-a' },
        ],
      }));
    }

    async function loadQueues() {
      try {
        const answer = await api('/v1/admin/queues');
        if (state.disposed) return;
        state.queues = (answer?.queues ?? []).slice().sort((a, b) => a.name.localeCompare(b.name));
        state.queuesError = null;
        state.updatedAt = new Date();
        mount(updated, `Updated ${clockFormat.format(state.updatedAt)} · every ${POLL_MS / 1000} s`);
      } catch (error) {
        if (state.disposed) return;
        state.queuesError = error;
        mount(updated, 'Queue statistics unavailable');
      }
      renderQueues();
      renderCharts();
      fillQueueSelect(queueFilter, state.filterQueue, 'All queues');
      // New dead letters: refresh the list when only its first page is showing and nobody is
      // in the middle of acting on it.
      const deadTotal = sum(state.queues.map((q) => q.dead));
      if (state.lastDeadTotal !== null && deadTotal !== state.lastDeadTotal
        && state.pagesLoaded <= 1 && !state.busy.size && !state.bulkBusy && !state.listLoading) {
        loadList({ quiet: true });
      }
      state.lastDeadTotal = deadTotal;
    }

    // ---- Dead letters ------------------------------------------------------------------
    function listUrl(after) {
      const params = new URLSearchParams({ state: state.filterState, limit: String(PAGE) });
      if (state.filterQueue) params.set('queue', state.filterQueue);
      if (after) params.set('after', after);
      return `/v1/admin/jobs?${params}`;
    }

    async function loadList({ quiet = false, more = false } = {}) {
      if (!quiet) state.flash = null;
      state.listLoading = true;
      if (!quiet && !more) mount(listStatus, 'Loading…');
      try {
        const page = await api(listUrl(more ? state.next : null));
        if (state.disposed) return;
        state.items = more ? [...state.items, ...(page.items ?? [])] : (page.items ?? []);
        state.next = page.next ?? null;
        state.pagesLoaded = more ? state.pagesLoaded + 1 : 1;
        state.listError = null;
      } catch (error) {
        if (state.disposed) return;
        state.listError = error;
      } finally {
        state.listLoading = false;
      }
      renderList();
    }

    function removeItem(id, message) {
      state.items = state.items.filter((job) => job.id !== id);
      renderList(message);
    }

    async function retry(job) {
      state.busy.add(job.id);
      renderList();
      try {
        await api(`/v1/admin/jobs/${encodeURIComponent(job.id)}/retry`, { method: 'POST' });
        state.busy.delete(job.id);
        removeItem(job.id, `Re-queued ${job.kind} (${job.id}).`);
        loadQueues();
      } catch (error) {
        state.busy.delete(job.id);
        if (error instanceof ApiError && error.status === 409) {
          removeItem(job.id, `${job.kind} (${job.id}) was already re-queued.`);
        } else {
          toast(`Retry failed: ${error.message}`, 'error');
          renderList();
        }
      }
    }

    async function discard(job) {
      if (!window.confirm(`Discard ${job.kind} (${job.id})? It will not run again.`)) return;
      state.busy.add(job.id);
      renderList();
      try {
        await api(`/v1/admin/jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
        state.busy.delete(job.id);
        removeItem(job.id, `Discarded ${job.kind} (${job.id}).`);
        loadQueues();
      } catch (error) {
        state.busy.delete(job.id);
        if (error instanceof ApiError && error.status === 409) {
          removeItem(job.id, `${error.message}.`);
        } else {
          toast(`Discard failed: ${error.message}`, 'error');
          renderList();
        }
      }
    }

    async function retryAll() {
      const shown = state.items.filter((job) => job.state === 'failed');
      if (!shown.length) return;
      if (shown.length > 1 && !window.confirm(`Re-queue all ${shown.length} dead jobs shown?`)) return;
      state.bulkBusy = true;
      renderList();
      let done = 0;
      const failed = [];
      for (const job of shown) {
        if (state.disposed) return;
        mount(listStatus, `Re-queuing ${done + failed.length + 1} of ${shown.length}…`);
        try {
          await api(`/v1/admin/jobs/${encodeURIComponent(job.id)}/retry`, { method: 'POST' });
          done++;
          state.items = state.items.filter((j) => j.id !== job.id);
        } catch (error) {
          if (error instanceof ApiError && error.status === 409) {
            state.items = state.items.filter((j) => j.id !== job.id);
          }
          failed.push({ job, error });
        }
      }
      state.bulkBusy = false;
      const message = `Re-queued ${done} of ${shown.length}${failed.length ? `; ${failed.length} failed (${failed[0].error.message})` : ''}`;
      if (failed.length) toast(message, 'error');
      renderList(message);
      loadQueues();
    }

    function renderJob(job) {
      const busy = state.busy.has(job.id) || state.bulkBusy;
      const when = job.state === 'requeued' && job.requeued_at ? job.requeued_at : job.failed_at;
      return h(`li.jobs-dead-item.state-${job.state}`, { 'data-testid': 'dead-job', dataset: { jobId: job.id, kind: job.kind } },
        h('div.jobs-dead-main',
          h('div.jobs-dead-title',
            h('code.jobs-kind', job.kind),
            h('span.badge', job.queue),
            h('span', { class: `badge ${job.state === 'failed' ? 'bad' : job.state === 'requeued' ? 'warn' : ''}` }, job.state),
            h('span.muted.jobs-attempts', `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`),
            h('time.muted', { datetime: when, title: when }, job.state === 'requeued' ? `re-queued ${formatTime(when)}` : formatTime(when))),
          h('pre.jobs-error', { 'data-testid': 'dead-job-error' }, job.error || '(no error message)'),
          h('details.jobs-payload',
            h('summary', 'Payload'),
            h('pre', payloadText(job.payload))),
          h('p.muted.jobs-id', 'id ', h('code', job.id))),
        job.state === 'failed'
          ? h('div.jobs-dead-actions',
            h('button', { type: 'button', disabled: busy, 'data-testid': 'retry-job', 'aria-label': `Retry ${job.kind} ${job.id}`, onclick: () => retry(job) }, 'Retry'),
            h('button.secondary', { type: 'button', disabled: busy, 'data-testid': 'discard-job', 'aria-label': `Discard ${job.kind} ${job.id}`, onclick: () => discard(job) }, 'Discard'))
          : null);
    }

    function renderList(statusMessage) {
      // What the last action did stays readable for a while, across automatic refreshes.
      if (statusMessage) state.flash = { message: statusMessage, until: Date.now() + 10_000 };
      else if (state.flash && state.flash.until > Date.now()) statusMessage = state.flash.message;
      const failedShown = state.items.filter((job) => job.state === 'failed').length;
      retryAllButton.disabled = state.bulkBusy || failedShown === 0;
      retryAllButton.textContent = failedShown ? `Retry all shown (${failedShown})` : 'Retry all shown';
      retryAllButton.hidden = state.filterState !== 'failed';
      if (state.listError) {
        mount(listStatus);
        mount(listBox, problemBox(state.listError));
        mount(moreBox);
        return;
      }
      const stateLabel = STATES.find((s) => s.value === state.filterState)?.label.toLowerCase() ?? state.filterState;
      mount(listStatus, statusMessage || (state.items.length
        ? `${state.items.length}${state.next ? '+' : ''} ${state.filterState === 'failed' ? 'dead' : state.filterState} job${state.items.length === 1 ? '' : 's'}${state.filterQueue ? ` in ${state.filterQueue}` : ''}, oldest job first.`
        : ''));
      if (!state.items.length) {
        mount(listBox, h('div.jobs-empty', { 'data-testid': 'jobs-dead-empty' },
          h('p', state.filterState === 'failed'
            ? `No dead jobs${state.filterQueue ? ` in ${state.filterQueue}` : ''}. Every job either succeeded or is still being tried.`
            : `No ${stateLabel} jobs${state.filterQueue ? ` in ${state.filterQueue}` : ''}.`)));
      } else {
        mount(listBox, h('ul.jobs-dead-list', state.items.map(renderJob)));
      }
      mount(moreBox, state.next
        ? h('button.secondary', { type: 'button', onclick: () => loadList({ more: true }) }, 'Load more')
        : null);
    }

    stateFilter.value = state.filterState;
    fillQueueSelect(queueFilter, state.filterQueue, 'All queues');
    renderCharts();
    // Counts first, then the list: a job that dies after either changes the next count, and
    // the poll then reloads the list.
    await loadQueues();
    await loadList();
    let first = true;
    const stop = poll(async () => { if (first) { first = false; return; } await loadQueues(); }, POLL_MS);
    return () => { state.disposed = true; stop(); };
  },
};
