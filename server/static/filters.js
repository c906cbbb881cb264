// A changed filter resets the filters after it (their choices depend on it) and reloads the page.
(function () {
  const form = document.getElementById("filters");
  if (!form) return;
  const selects = Array.from(form.querySelectorAll("select"));
  selects.forEach((select, index) => {
    select.addEventListener("change", () => {
      selects.slice(index + 1).forEach((later) => { later.disabled = true; });
      form.submit();
    });
  });
})();
