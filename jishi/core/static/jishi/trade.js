// Buyer trade pages: cart selection and totals, quantity editing, one-time submits,
// confirmation prompts, quick top-up amounts and ticking countdowns.
(function () {
  const yuan = (fen) => (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // --- cart: choose lines, see the total, delete the chosen ones ---
  const lines = Array.from(document.querySelectorAll("input[data-line]"));
  const allBoxes = Array.from(document.querySelectorAll("input[data-check-all]"));
  function refreshCart() {
    let fen = 0, count = 0;
    lines.forEach((box) => { if (box.checked) { fen += parseInt(box.dataset.lineFen, 10); count += parseInt(box.dataset.qty, 10); } });
    document.querySelectorAll("[data-selected-total]").forEach((el) => { el.textContent = yuan(fen); });
    document.querySelectorAll("[data-selected-count]").forEach((el) => { el.textContent = count; });
    document.querySelectorAll("[data-checkout]").forEach((b) => { b.disabled = count === 0; });
    const all = lines.length > 0 && lines.every((b) => b.checked);
    allBoxes.forEach((b) => { b.checked = all; });
    document.querySelectorAll("[data-shop-group]").forEach((group) => {
      const boxes = Array.from(group.querySelectorAll("input[data-line]"));
      const shopBox = group.querySelector("input[data-check-shop]");
      if (shopBox) shopBox.checked = boxes.length > 0 && boxes.every((b) => b.checked);
    });
  }
  if (lines.length || allBoxes.length) {
    lines.forEach((b) => b.addEventListener("change", refreshCart));
    allBoxes.forEach((box) => box.addEventListener("change", () => { lines.forEach((b) => { b.checked = box.checked; }); refreshCart(); }));
    document.querySelectorAll("input[data-check-shop]").forEach((box) => box.addEventListener("change", () => {
      box.closest("[data-shop-group]").querySelectorAll("input[data-line]").forEach((b) => { b.checked = box.checked; });
      refreshCart();
    }));
    const removeBtn = document.querySelector("[data-remove-selected]");
    const removeForm = document.getElementById("remove-form");
    if (removeBtn && removeForm) removeBtn.addEventListener("click", () => {
      const chosen = lines.filter((b) => b.checked);
      if (!chosen.length) return;
      chosen.forEach((b) => { const i = document.createElement("input"); i.type = "hidden"; i.name = "item"; i.value = b.value; removeForm.appendChild(i); });
      removeForm.submit();
    });
    refreshCart();
  }
  // A typed quantity is saved when the field is left.
  document.querySelectorAll("form[data-qty-form] input[name=quantity]").forEach((input) => {
    const start = input.value;
    input.addEventListener("change", () => { if (input.value !== start && parseInt(input.value, 10) > 0) input.form.submit(); });
  });

  // --- forms: ask first, submit once ---
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  }));
  document.querySelectorAll("form[data-once], #place-form").forEach((form) => form.addEventListener("submit", () => {
    setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
  }));

  // --- wallet: quick amounts ---
  document.querySelectorAll("[data-amount]").forEach((btn) => btn.addEventListener("click", () => {
    const input = btn.closest(".field").querySelector("input[name=amount]");
    if (input) { input.value = btn.dataset.amount; input.focus(); }
  }));

  // --- countdowns: the server rendered the time left; keep it ticking ---
  // (Counted from the seconds left at render, so a skewed browser clock does not matter.)
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
