// The Visitors page: each pending walk-in request is asked about every half second until a
// resident answers; an approval shows its Open button at once.
(function () {
  "use strict";
  const code = document.getElementById("visitor-code");
  if (code) {
    const pick = code.querySelector("select[name=gate]");
    const aim = () => { code.action = "/gates/" + encodeURIComponent(pick.value) + "/code"; };
    pick.addEventListener("change", aim);
    aim();
  }
  function watch(li) {
    const id = li.dataset.request;
    const tick = async () => {
      let r;
      try {
        r = await fetch("/visitors/requests/" + encodeURIComponent(id), {cache: "no-store"});
      } catch (e) {
        setTimeout(tick, 1000);
        return;
      }
      if (r.status === 401 || r.redirected) return;
      const got = await r.json();
      const status = got.status === "unreachable" ? "cloud unreachable: call the flat" : got.status;
      li.dataset.status = got.status;
      li.className = "request " + got.status;
      li.querySelector(".status").textContent = status;
      li.querySelector(".by").textContent = got.answered_name ? "by " + got.answered_name : "";
      const form = li.querySelector("form.open-visitor");
      form.hidden = !(got.status === "approved" && !got.opened);
      if (got.status === "pending" || got.status === "unreachable") setTimeout(tick, 500);
    };
    tick();
  }
  document.querySelectorAll("li.request").forEach((li) => {
    if (li.dataset.status === "pending") watch(li);
  });
})();
