// Seller product form: rebuild the SKU table (one row per combination of spec values) as the
// seller types, keeping what was already typed in each row. The server does the same when
// "Refresh SKU table" is pressed, so the form works without this script.
(function () {
  const form = document.getElementById("product-form");
  const body = document.getElementById("sku-body");
  const head = document.getElementById("sku-head");
  const template = document.getElementById("sku-row-template");
  if (!form || !body || !head || !template) return;
  const SKUS_MAX = 200;
  const SEPARATORS = /[,，、;；]/;

  function dimensions() {
    const dims = [];
    form.querySelectorAll(".spec-slot").forEach((slot) => {
      const name = slot.querySelector("[data-spec-name]").value.trim();
      const seen = new Set();
      const values = slot.querySelector("[data-spec-values]").value.split(SEPARATORS)
        .map((v) => v.trim()).filter((v) => v && !seen.has(v) && seen.add(v));
      if (name && values.length) dims.push({ name, values });
    });
    return dims;
  }

  function combinations(dims) {
    let combos = [{}];
    for (const dim of dims) {
      const next = [];
      for (const combo of combos) {
        for (const value of dim.values) next.push(Object.assign({}, combo, { [dim.name]: value }));
      }
      combos = next;
      if (combos.length > SKUS_MAX) return null;
    }
    return combos;
  }

  function keyOf(dims, specs) {
    return dims.map((d) => d.name + ":" + specs[d.name]).join(";");
  }

  function typedRows() {
    const rows = {};
    body.querySelectorAll("tr").forEach((tr) => {
      const get = (n) => tr.querySelector(`[name=${n}]`).value;
      rows[get("sku_key")] = {
        sku_price: get("sku_price"), sku_list_price: get("sku_list_price"),
        sku_stock: get("sku_stock"), sku_code: get("sku_code"),
        sku_stock_seen: get("sku_stock_seen"),
      };
    });
    return rows;
  }

  function rebuild() {
    const dims = dimensions();
    const combos = combinations(dims);
    if (combos === null) return; // too many: the server explains on save
    const typed = typedRows();
    head.querySelectorAll(".spec-th").forEach((th) => th.remove());
    const firstFixed = head.querySelector(".fixed");
    for (const dim of dims) {
      const th = document.createElement("th");
      th.className = "spec-th";
      th.textContent = dim.name;
      head.insertBefore(th, firstFixed);
    }
    const rows = combos.map((specs) => {
      const key = keyOf(dims, specs);
      const tr = template.content.firstElementChild.cloneNode(true);
      tr.dataset.key = key;
      tr.querySelector("[name=sku_key]").value = key;
      const old = typed[key];
      if (old) for (const [name, value] of Object.entries(old)) tr.querySelector(`[name=${name}]`).value = value;
      const first = tr.firstElementChild;
      for (const dim of dims) {
        const td = document.createElement("td");
        td.className = "spec";
        td.textContent = specs[dim.name];
        tr.insertBefore(td, first);
      }
      return tr;
    });
    body.replaceChildren(...rows);
  }

  let timer = null;
  form.querySelectorAll("[data-spec-name], [data-spec-values]").forEach((input) => {
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(rebuild, 250); });
  });
})();
