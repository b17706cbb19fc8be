// The label HTML the server renders, rebuilt for the console.
//
// The server's HTML is a whole document with an inline <style> and style="…" attributes, which
// the console's CSP refuses. So it is parsed with DOMParser (inert: nothing in it runs or
// loads), and rebuilt element by element from a short list of the tags and attributes the label
// renderer writes; its custom properties (--columns, --width, …) are set through the CSSOM, and
// its stylesheet (assets/labels.css) is adopted as a constructed stylesheet, which CSP does not
// govern. No markup from the server is ever inserted as markup.

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
