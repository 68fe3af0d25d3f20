// MathJax 3, bundled (no network). Only marked elements are searched for TeX:
// pymdownx.arithmatex spans (\( \), \[ \]) on the docs pages, and on the notebook pages
// (mkdocs-jupyter) the markdown cells with their raw $...$ / $$...$$, marked before typesetting.
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
        processEscapes: true, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex|lazyrich-math"},
  startup: {
    pageReady() {
      for (const cell of document.querySelectorAll(".jp-RenderedMarkdown")) {
        for (const el of [cell, ...cell.querySelectorAll("*")]) el.classList.add("lazyrich-math");
      }
      return MathJax.startup.defaultPageReady();
    },
  },
};
