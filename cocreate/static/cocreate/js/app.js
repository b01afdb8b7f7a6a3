// cocreate's own script; no inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  // Confirm dangerous actions: <button data-confirm="确定删除？">
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
