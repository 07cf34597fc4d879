/* Follow the Airflow UI's colour mode. The dashboard is served by the Airflow api-server (same
   origin as the UI, shown inside it), so it reads what the UI keeps: the `theme` key in
   localStorage ("light", "dark" or "system") and the `light`/`dark` class the UI sets on its own
   <html> when this page is embedded. Without this script, prefers-color-scheme still applies. */
(function () {
  var root = document.documentElement;
  function parentMode() {
    try {
      var p = window.parent && window.parent !== window ? window.parent.document.documentElement : null;
      if (p && p.classList.contains("dark")) return "dark";
      if (p && p.classList.contains("light")) return "light";
    } catch (e) { /* another origin: fall through */ }
    return null;
  }
  function storedMode() {
    try { return window.localStorage.getItem("theme"); } catch (e) { return null; }
  }
  function apply() {
    var mode = parentMode() || storedMode() || "system";
    if (mode !== "light" && mode !== "dark") {
      mode = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    }
    root.setAttribute("data-theme", mode);
    root.style.colorScheme = mode;
  }
  apply();
  window.addEventListener("storage", apply);
  try {
    new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true, attributeFilter: ["class"] });
  } catch (e) { /* not embedded */ }
})();
