/* Read-only diagram with markers (the process versions and instance pages).
   Reads #diagram-config: {xml, marks: {completed, current, error, flows}, text: {...}}. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("diagram-config").textContent);
  var container = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!window.BpmnJS) {
    status.textContent = config.text.missing;
    return;
  }
  var viewer = new window.BpmnJS({ container: container });
  var classes = { completed: "hl-completed", current: "hl-current", error: "hl-error", flows: "hl-flow" };
  viewer.importXML(config.xml).then(function () {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport");
    Object.keys(classes).forEach(function (kind) {
      (config.marks[kind] || []).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, classes[kind]);
        }
      });
    });
    container.setAttribute("data-ready", "true");
    status.textContent = "";
  }).catch(function (err) {
    var message = err && err.message ? err.message : "";
    if (message.indexOf("no diagram to display") >= 0) {
      container.hidden = true;  // a file without layout (BPMN DI): the list below still says it
      status.textContent = config.text.nolayout;
      return;
    }
    status.textContent = config.text.failed + " " + message;
  });
})();
