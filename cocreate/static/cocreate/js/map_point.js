// The optional map point of a need: "使用当前位置" fills latitude and longitude from the device's
// location (the phone's GPS works without a network), "清除" empties both. No map tiles and no
// requests to anyone: the page stays usable offline. Messages come from data-msg-* attributes
// (translated on the server). Without this script the two boxes are typed in by hand.
(function () {
  "use strict";

  function setup(box) {
    if (box.getAttribute("data-cc-ready")) {
      return;
    }
    box.setAttribute("data-cc-ready", "1");
    var lat = box.querySelector("[data-cc-geo=lat]");
    var lng = box.querySelector("[data-cc-geo=lng]");
    var locate = box.querySelector("[data-cc-geo-locate]");
    var clear = box.querySelector("[data-cc-geo-clear]");
    var status = box.querySelector("[data-cc-geo-status]");
    if (!lat || !lng || !locate || !clear || !status) {
      return;
    }

    function say(name, value) {
      var text = box.getAttribute("data-msg-" + name) || "";
      status.textContent = value === undefined ? text : text.replace("%(m)s", value);
    }

    function changed(input) {
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    clear.hidden = false;
    clear.addEventListener("click", function () {
      lat.value = "";
      lng.value = "";
      changed(lat);
      changed(lng);
      say("cleared");
      lat.focus();
    });

    if (!("geolocation" in navigator)) {
      return;
    }
    locate.hidden = false;
    locate.addEventListener("click", function () {
      // Browsers give positions only to https pages (and localhost); say so instead of failing silently.
      if (window.isSecureContext === false) {
        say("insecure");
        return;
      }
      locate.disabled = true;
      say("locating");
      navigator.geolocation.getCurrentPosition(
        function (position) {
          locate.disabled = false;
          lat.value = position.coords.latitude.toFixed(6);
          lng.value = position.coords.longitude.toFixed(6);
          changed(lat);
          changed(lng);
          say("located", String(Math.round(position.coords.accuracy || 0)));
        },
        function (error) {
          locate.disabled = false;
          if (error.code === 1) {
            say("denied");
          } else if (error.code === 3) {
            say("timeout");
          } else {
            say("unavailable");
          }
        },
        // High accuracy asks for the GPS; a cold GPS start outdoors can take a minute.
        { enableHighAccuracy: true, timeout: 90000, maximumAge: 60000 }
      );
    });
  }

  function setupAll() {
    var boxes = document.querySelectorAll("[data-cc-map-point]");
    for (var i = 0; i < boxes.length; i++) {
      setup(boxes[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
