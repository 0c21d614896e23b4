// After-sales pages: the reason list follows the chosen kind, the amount or the replacement
// shows for the kind that needs it, the "other carrier" box, image counts, confirmation
// prompts, submit once, and ticking countdowns. The server checks everything again.
(function () {
  // --- request form: reasons per kind ---
  const data = document.getElementById("as-reasons");
  const reasonSelect = document.querySelector("select[data-reasons]");
  const kindRadios = Array.from(document.querySelectorAll("input[name=kind]"));
  function currentKind() {
    const on = kindRadios.find((r) => r.checked);
    return on ? on.value : (kindRadios[0] && kindRadios[0].value);
  }
  function syncKind() {
    const kind = currentKind();
    if (data && reasonSelect) {
      const reasons = JSON.parse(data.textContent)[kind] || [];
      const chosen = reasonSelect.value;
      const placeholder = reasonSelect.querySelector("option[value='']");
      reasonSelect.innerHTML = "";
      if (placeholder) reasonSelect.appendChild(placeholder);
      reasons.forEach(([code, label]) => {
        const option = document.createElement("option");
        option.value = code;
        option.textContent = label;
        if (code === chosen) option.selected = true;
        reasonSelect.appendChild(option);
      });
    }
    document.querySelectorAll("[data-kind-only]").forEach((el) => {
      el.hidden = !el.dataset.kindOnly.split(" ").includes(kind);
    });
    document.querySelectorAll("[data-kind-not]").forEach((el) => {
      el.hidden = el.dataset.kindNot.split(" ").includes(kind);
    });
  }
  if (kindRadios.length) {
    kindRadios.forEach((r) => r.addEventListener("change", syncKind));
    syncKind();
  }

  // --- carrier: the free-text box only for "other" ---
  document.querySelectorAll("select[data-other-toggle]").forEach((select) => {
    const other = select.form && select.form.querySelector(`[name=${select.dataset.otherToggle}]`);
    if (!other) return;
    const sync = () => {
      const on = select.value === "other";
      other.hidden = !on;
      other.required = on;
    };
    select.addEventListener("change", () => { sync(); if (!other.hidden) other.focus(); });
    sync();
  });

  // --- images: say how many are chosen, warn above the limit ---
  document.querySelectorAll("input[type=file][data-max]").forEach((input) => {
    const note = input.parentElement.querySelector("[data-file-note]");
    input.addEventListener("change", () => {
      if (!note) return;
      const max = parseInt(input.dataset.max, 10);
      const n = input.files.length;
      note.textContent = n > max ? (note.dataset.tooMany || "").replace("{n}", max) : (n ? (note.dataset.chosen || "").replace("{n}", n) : "");
      note.classList.toggle("as-field-error", n > max);
    });
  });

  // --- forms: ask first, submit once ---
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  }));
  document.querySelectorAll("form[data-once]").forEach((form) => form.addEventListener("submit", (e) => {
    if (e.defaultPrevented) return;
    setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
  }));

  // --- countdowns: rendered by the server as seconds left; keep them ticking ---
  const loaded = Date.now();
  const clocks = Array.from(document.querySelectorAll("[data-seconds-left]"));
  function tick() {
    const gone = Date.now() - loaded;
    clocks.forEach((el) => {
      const left = Math.max(0, Math.floor((parseInt(el.dataset.secondsLeft, 10) * 1000 - gone) / 60000));
      const set = (sel, v) => { const n = el.querySelector(sel); if (n) n.textContent = v; };
      set("[data-d]", Math.floor(left / 1440));
      set("[data-h]", Math.floor(left / 60) % 24);
      set("[data-m]", left % 60);
    });
  }
  if (clocks.length) setInterval(tick, 20000);
})();
