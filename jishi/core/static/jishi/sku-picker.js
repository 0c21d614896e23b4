// SKU picker on the product page: choose one value per spec, see that SKU's price and stock.
(function () {
  const node = document.getElementById("sku-data");
  if (!node) return;
  const skus = JSON.parse(node.textContent);
  const chosen = {};
  const specRows = Array.from(document.querySelectorAll(".spec-row[data-spec]"));
  const names = specRows.map((r) => r.dataset.spec);
  const yuan = (fen) => (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const priceEl = document.getElementById("price");
  const stockEl = document.getElementById("stock");
  const listEl = document.getElementById("list-price");
  const skuInput = document.getElementById("sku-id");
  const qty = document.getElementById("qty");
  const hint = document.getElementById("sku-hint");

  const chosenSku = () => skus.find((s) => String(s.id) === skuInput.value);
  // The quantity never exceeds the chosen SKU's stock (the server refuses overselling anyway).
  // While typing, only a too-large number is corrected; on leaving the field it is at least 1.
  function clampQty(final) {
    const sku = chosenSku();
    let n = parseInt(qty.value, 10);
    if (!Number.isFinite(n) || n < 1) {
      if (!final) return;
      n = 1;
    }
    if (sku && sku.stock > 0 && n > sku.stock) n = sku.stock;
    if (String(n) !== qty.value) qty.value = n;
  }

  // "Buy now" / "Add to cart" carry the chosen SKU and quantity; off until a SKU in stock is chosen.
  function syncBuy() {
    const sku = chosenSku();
    const ok = !!sku && sku.stock > 0;
    const n = Math.max(1, parseInt(qty.value, 10) || 1);
    document.querySelectorAll("[data-buy-sku]").forEach((i) => { i.value = ok ? sku.id : ""; });
    document.querySelectorAll("[data-buy-qty]").forEach((i) => { i.value = ok ? Math.min(n, sku.stock) : n; });
    document.querySelectorAll("[data-buy-button]").forEach((b) => { b.disabled = !ok; });
  }
  qty.addEventListener("input", () => { clampQty(false); syncBuy(); });
  qty.addEventListener("change", () => { clampQty(true); syncBuy(); });
  document.querySelectorAll("[data-buy-form]").forEach((f) => f.addEventListener("submit", () => { clampQty(true); syncBuy(); }));

  function matches(sku, extra) {
    const want = Object.assign({}, chosen, extra || {});
    return Object.keys(want).every((k) => sku.specs[k] === want[k]);
  }
  function refresh() {
    document.querySelectorAll(".spec-option").forEach((btn) => {
      const name = btn.dataset.name, value = btn.dataset.value;
      btn.classList.toggle("on", chosen[name] === value);
      const rest = Object.assign({}, chosen); delete rest[name];
      const ok = skus.some((s) => s.stock > 0 && Object.keys(rest).every((k) => s.specs[k] === rest[k]) && s.specs[name] === value);
      btn.disabled = !ok;
    });
    const candidates = skus.filter((s) => matches(s));
    const complete = names.every((n) => chosen[n] !== undefined);
    if (complete && candidates.length === 1) {
      const sku = candidates[0];
      priceEl.textContent = yuan(sku.price_fen);
      stockEl.textContent = sku.stock;
      listEl.textContent = sku.list_price_fen ? "¥" + yuan(sku.list_price_fen) : "";
      skuInput.value = sku.id;
      qty.max = Math.max(1, sku.stock);
      clampQty(true);
      if (hint) hint.hidden = true;
    } else if (candidates.length) {
      const prices = candidates.map((s) => s.price_fen);
      const lo = Math.min(...prices), hi = Math.max(...prices);
      priceEl.textContent = lo === hi ? yuan(lo) : yuan(lo) + " - " + yuan(hi);
      stockEl.textContent = candidates.reduce((a, s) => a + s.stock, 0);
      listEl.textContent = "";
      skuInput.value = skus.length === 1 ? skus[0].id : "";
      qty.removeAttribute("max");
      if (hint) hint.hidden = false;
    }
    syncBuy();
  }
  document.querySelectorAll(".spec-option").forEach((btn) =>
    btn.addEventListener("click", () => {
      const name = btn.dataset.name, value = btn.dataset.value;
      if (chosen[name] === value) delete chosen[name]; else chosen[name] = value;
      refresh();
    }));
  document.querySelectorAll(".qty button").forEach((btn) =>
    btn.addEventListener("click", () => {
      qty.value = Math.max(1, (parseInt(qty.value, 10) || 1) + parseInt(btn.dataset.step, 10));
      clampQty(true);
      syncBuy();
    }));
  document.querySelectorAll("[data-thumb]").forEach((img) =>
    img.addEventListener("mouseenter", () => {
      document.getElementById("main-img").src = img.src;
      document.querySelectorAll("[data-thumb]").forEach((i) => i.classList.toggle("on", i === img));
    }));
  refresh();
})();
