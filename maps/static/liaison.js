/* The liaison pages' one script: a transition form shows the fields its target needs
   (who takes it for "assigned", the request it repeats for "duplicate", satisfaction for
   "closed"). Without it every field shows, and the server still says what is missing. */
(function () {
  "use strict";
  function follow(select) {
    var form = select.form;
    var fields = form.querySelectorAll("[data-for]");
    for (var i = 0; i < fields.length; i++) {
      fields[i].hidden = fields[i].getAttribute("data-for") !== select.value;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var selects = document.querySelectorAll("select[data-shows]");
    for (var i = 0; i < selects.length; i++) {
      follow(selects[i]);
      selects[i].addEventListener("change", function (event) { follow(event.target); });
    }
  });
})();
