// Seller ship form: the free-text carrier box shows only when "other" is chosen.
document.querySelectorAll("select[data-other-toggle]").forEach((select) => {
  const other = document.getElementById(select.dataset.otherToggle);
  if (!other) return;
  const sync = () => {
    const on = select.value === "other";
    other.hidden = !on;
    other.required = on;
    if (on) other.focus();
  };
  select.addEventListener("change", sync);
  other.hidden = select.value !== "other";
  other.required = select.value === "other";
});
