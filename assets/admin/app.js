// The console's frame: sign-in, the navigation, and one page at a time by the URL's fragment
// (#/jobs, #/labels, …), so a reload or a shared link opens the same page.

import { api, setToken, token, ApiError } from './lib/api.js';
import { h, mount, problemBox } from './lib/dom.js';

const PAGES = [
  { path: 'jobs', title: 'Jobs', admin: true },
  { path: 'labels', title: 'Labels' },
  { path: 'images', title: 'Images' },
  { path: 'meal-photos', title: 'Meal photos' },
  { path: 'ads', title: 'Ads', admin: true },
  { path: 'bulk', title: 'Bulk' },
];

const state = { me: null, cleanup: null };

function route() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  // Without a page named, the first one this token may use.
  const first = PAGES.find((page) => !page.admin || state.me?.admin) ?? PAGES[0];
  return { path: path || first.path, params: new URLSearchParams(query) };
}

export function navigate(path) {
  location.hash = `#/${path}`;
}

async function signInWithCode(code) {
  const answer = await api('/v1/auth/login', { json: { code }, auth: false });
  setToken(answer.token);
}

function signInPage(root, error) {
  const input = h('textarea#token', { rows: 4, required: true, autocomplete: 'off', spellcheck: false, placeholder: 'eyJhbGciOi…' });
  const form = h('form.card.signin', {
    onsubmit: async (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      await start();
    },
  },
  h('h1', 'Sign in'),
  h('p', 'Paste a bearer token, or open a one-time link from ', h('code', 'sous token --sub you --scope admin --login'), '.'),
  h('label', { for: 'token' }, 'Token'),
  input,
  h('button', { type: 'submit' }, 'Sign in'),
  error ? problemBox(error) : null);
  mount(root, form);
  input.focus();
}

function renderWho() {
  const who = document.getElementById('who');
  if (!state.me) return mount(who);
  mount(who,
    h('span.subject', { title: 'Signed in as' }, state.me.subject),
    state.me.scopes.length
      ? h('span.scopes', state.me.scopes.map((s) => h('span.scope', s)))
      : h('span.scopes.none', 'no scopes'),
    h('button.link#sign-out', {
      type: 'button',
      onclick: () => { setToken(null); state.me = null; start(); },
    }, 'Sign out'));
}

function renderNav(current) {
  mount(document.getElementById('nav'), state.me ? PAGES.map((page) => {
    const locked = page.admin && !state.me.admin;
    return h(`a${locked ? '.locked' : ''}`, {
      href: `#/${page.path}`,
      'aria-current': page.path === current ? 'page' : null,
      title: locked ? 'Needs the admin scope' : null,
    }, page.title);
  }) : []);
}

async function show() {
  const root = document.getElementById('page');
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  const { path, params } = route();
  const page = PAGES.find((p) => p.path === path);
  renderNav(path);
  if (!page) return mount(root, h('div.card', h('h1', 'Not found'), h('p', 'No page ', h('code', path), '.')));
  document.title = `${page.title} · sous console`;
  if (page.admin && !state.me.admin) {
    return mount(root, h('div.card.denied', { role: 'alert' },
      h('h1', page.title),
      h('p', 'This page needs the ', h('code', 'admin'), ' scope, and the token of ', h('strong', state.me.subject), ' does not have it.'),
      h('p', 'Sign in with a token that has it: ', h('code', 'sous token --sub you --scope admin --login'), '.')));
  }
  mount(root, h('p.loading', 'Loading…'));
  const module = await import(`./pages/${page.path}.js`);
  mount(root);
  const cleanup = await module.default.render(root, { me: state.me, params, navigate });
  if (typeof cleanup === 'function') state.cleanup = cleanup;
}

async function start() {
  const root = document.getElementById('page');
  const code = new URLSearchParams(location.hash.replace(/^#\/?/, '')).get('login');
  if (code) {
    // The code leaves the address bar at once: it is single-use, but it should not linger.
    history.replaceState(null, '', `${location.pathname}#/`);
    try {
      await signInWithCode(code);
    } catch (error) {
      return signInPage(root, error);
    }
  }
  if (!token()) {
    renderWho();
    renderNav();
    return signInPage(root);
  }
  try {
    state.me = await api('/v1/me');
  } catch (error) {
    setToken(null);
    state.me = null;
    renderWho();
    renderNav();
    return signInPage(root, error instanceof ApiError ? error : null);
  }
  renderWho();
  await show();
}

window.addEventListener('hashchange', () => {
  if (state.me) show();
  else start();
});
window.addEventListener('sous:unauthorized', () => {
  setToken(null);
  state.me = null;
  start();
});
start();
