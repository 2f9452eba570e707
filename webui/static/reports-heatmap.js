// The bottleneck heatmap: the BPMN diagram (bpmn-js NavigatedViewer) with each task coloured
// by its median waiting time (green: short, red: the longest) and its open-task count.
(function () {
  var source = document.getElementById('heatmap-data');
  if (!source || !window.BpmnJS) { return; }
  var data = JSON.parse(source.textContent);
  var viewer = new window.BpmnJS({ container: '#heatmap-canvas' });
  function colour(value) {
    if (value === null) { return '#dddddd'; }
    var share = data.max ? Math.min(1, value / data.max) : 0;
    return 'hsl(' + Math.round(120 - 120 * share) + ', 70%, 60%)';
  }
  viewer.importXML(data.xml).then(function () {
    var canvas = viewer.get('canvas');
    var overlays = viewer.get('overlays');
    var registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    Object.keys(data.elements).forEach(function (id) {
      var figures = data.elements[id];
      var element = registry.get(id);
      if (!element) { return; }
      var gfx = registry.getGraphics(element);
      var shape = gfx && gfx.querySelector('.djs-visual > rect');
      if (shape) {
        shape.style.fill = colour(figures.median_detik);
        shape.setAttribute('data-heat', figures.median_detik === null ? 'none' : 'measured');
      }
      var badge = document.createElement('span');
      badge.className = 'heat-badge';
      badge.setAttribute('data-element', id);
      badge.textContent = String(figures.terbuka);
      badge.title = figures.nama;
      overlays.add(id, { position: { top: -10, right: 10 }, html: badge });
    });
    document.getElementById('heatmap-canvas').setAttribute('data-ready', 'true');
  }).catch(function (err) {
    source.insertAdjacentText('afterend', String(err && err.message || err));
  });
}());
