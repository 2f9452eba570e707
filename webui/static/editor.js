/* The diagram editor (templates/editor/edit.html).
 *
 * BPMN: bpmn-js's Modeler (global BpmnJS) with its properties panel (global
 * BpmnJSPropertiesPanel) and a "Jenjang task" group for user tasks: the lane (role), the
 * form key, the assignee and due date expressions, kept as
 * <spiffworkflow:properties><spiffworkflow:property name="formKey" value="..."/> like
 * workflows/*.bpmn. DMN: dmn-js's Modeler (global DmnJS), opened on the decision table.
 * Save draft, Validate and Deploy post JSON with the CSRF token; validation problems are
 * marked on their elements and listed beside the diagram.
 */
(function () {
  'use strict';

  var SPIFF_NS = 'http://spiffworkflow.org/bpmn/schema/1.0/core';
  var CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn';
  var config = JSON.parse(document.getElementById('editor-config').textContent);
  var T = config.text;
  var csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById('editor-status');
  var problemsEl = document.getElementById('problems');
  var summaryEl = document.getElementById('problems-summary');
  var buttons = ['btn-save', 'btn-validate', 'btn-deploy', 'btn-export'].map(function (id) {
    return document.getElementById(id);
  });
  var modeler = null;
  var dirty = false;

  /* ---- preact vnodes for the properties panel ------------------------------------------
   * The panel's UMD bundle exports its modules and `useService`, but neither its entry
   * components (TextFieldEntry, SelectEntry) nor preact's createElement. A function
   * component may return any vnode of the bundle's own preact, so `h` builds them in
   * preact 10's shape (its mangled field names, stable for the version pinned in
   * webui/package-lock.json). Inputs are uncontrolled: a change runs a modeling command,
   * the panel re-renders from the diagram. The browser test checks this still works. */
  var vnodeId = 1e9;

  function h(type, props) {
    var children = Array.prototype.slice.call(arguments, 2);
    var own = {};
    var key;
    Object.keys(props || {}).forEach(function (name) {
      if (name === 'key') {
        key = props[name];
      } else {
        own[name] = props[name];
      }
    });
    if (children.length) {
      own.children = children.length === 1 ? children[0] : children;
    }
    vnodeId += 1;
    return {
      type: type, props: own, key: key, ref: undefined,
      __k: null, __: null, __b: 0, __e: null, __d: undefined, __c: null,
      constructor: undefined, __v: vnodeId, __i: -1, __u: 0
    };
  }

  /* ---- spiffworkflow properties, read and written as generic moddle elements ----------
   * No moddle descriptor is registered for the spiffworkflow namespace on purpose: for a
   * known namespace moddle drops every element its descriptor does not list (Spiff's
   * serviceTaskOperator, calledDecisionId, SpiffArena's own extensions), while an unknown
   * one is kept whole as generic elements and written back unchanged. */
  function spiffName(el, local) {
    var d = el && el.$descriptor;
    return !!(d && d.ns && d.ns.uri === SPIFF_NS && d.ns.localName === local);
  }

  function definitionsOf(bo) {
    var el = bo;
    while (el && el.$parent) {
      el = el.$parent;
    }
    return el;
  }

  function spiffPrefix(bo) {
    var attrs = (definitionsOf(bo) || {}).$attrs || {};
    var found = Object.keys(attrs).filter(function (name) {
      return name.indexOf('xmlns:') === 0 && attrs[name] === SPIFF_NS;
    })[0];
    return found ? found.slice(6) : 'spiffworkflow';
  }

  function spiffContainer(bo) {
    var ext = bo.get('extensionElements');
    var values = (ext && ext.get('values')) || [];
    return values.filter(function (v) { return spiffName(v, 'properties'); })[0] || null;
  }

  function spiffProperty(bo, name) {
    var container = spiffContainer(bo);
    var children = (container && container.$children) || [];
    return children.filter(function (c) {
      return spiffName(c, 'property') && c.name === name;
    })[0] || null;
  }

  function camundaAttr(bo, local) {
    var attrs = bo.$attrs || {};
    var defs = (definitionsOf(bo) || {}).$attrs || {};
    var prefix = Object.keys(defs).filter(function (n) {
      return n.indexOf('xmlns:') === 0 && defs[n] === CAMUNDA_NS;
    }).map(function (n) { return n.slice(6); })[0] || 'camunda';
    return attrs[prefix + ':' + local] || '';
  }

  function readProperty(bo, name, camundaName) {
    var prop = spiffProperty(bo, name);
    if (prop) {
      return prop.value || '';
    }
    return camundaName ? camundaAttr(bo, camundaName) : '';
  }

  function writeProperty(element, name, raw) {
    var value = (raw || '').trim();
    var bo = element.businessObject;
    var moddle = modeler.get('moddle');
    var modeling = modeler.get('modeling');
    var prefix = spiffPrefix(bo);
    var ext = bo.get('extensionElements');
    var container = spiffContainer(bo);
    var prop = spiffProperty(bo, name);
    if (prop) {
      if (value === (prop.value || '')) {
        return;
      }
      if (value) {
        modeling.updateModdleProperties(element, prop, { value: value });
      } else {
        modeling.updateModdleProperties(element, container, {
          $children: container.$children.filter(function (c) { return c !== prop; })
        });
      }
      return;
    }
    if (!value) {
      return;
    }
    prop = moddle.createAny(prefix + ':property', SPIFF_NS, { name: name, value: value });
    if (container) {
      prop.$parent = container;
      modeling.updateModdleProperties(element, container, {
        $children: (container.$children || []).concat([prop])
      });
      return;
    }
    container = moddle.createAny(prefix + ':properties', SPIFF_NS, {});
    container.$children = [prop];
    prop.$parent = container;
    if (ext) {
      container.$parent = ext;
      modeling.updateModdleProperties(element, ext, {
        values: (ext.get('values') || []).concat([container])
      });
      return;
    }
    ext = modeler.get('bpmnFactory').create('bpmn:ExtensionElements', { values: [container] });
    container.$parent = ext;
    ext.$parent = bo;
    modeling.updateProperties(element, { extensionElements: ext });
  }

  /* ---- the lane of a task and the role it gives (engine.validation.role_of_lane) ------ */
  function roleOfLane(name) {
    return name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  }

  function laneOf(element) {
    var bo = element.businessObject;
    var best = null;
    var bestDepth = -1;
    modeler.get('elementRegistry').filter(function (e) {
      return e.type === 'bpmn:Lane';
    }).forEach(function (lane) {
      var refs = lane.businessObject.get('flowNodeRef') || [];
      if (refs.indexOf(bo) === -1) {
        return;
      }
      var depth = 0;
      for (var p = lane.parent; p; p = p.parent) {
        depth += 1;
      }
      if (depth > bestDepth) {
        best = lane;
        bestDepth = depth;
      }
    });
    return best;
  }

  /* ---- the "Jenjang task" group -------------------------------------------------------- */
  function entry(id, label, control, help) {
    return h('div', { class: 'bio-properties-panel-entry', 'data-entry-id': id },
      h('label', { for: 'bio-properties-panel-' + id, class: 'bio-properties-panel-label' }, label),
      control,
      help ? h('div', { class: 'bio-properties-panel-description' }, help) : null);
  }

  function RoleEntry(props) {
    var element = props.element;
    var bo = element.businessObject;
    var lane = laneOf(element);
    var explicit = readProperty(bo, 'role', 'candidateGroups').split(',')[0].trim();
    var laneName = lane ? (lane.businessObject.name || lane.businessObject.id) : '';
    var text = laneName
      ? laneName + ' → ' + (explicit || roleOfLane(laneName))
      : (explicit || T.no_lane);
    return h('div', { class: 'bio-properties-panel-entry', 'data-entry-id': 'jenjang-role' },
      h('div', { class: 'bio-properties-panel-label' }, T.lane),
      h('div', { class: 'jenjang-readonly', id: 'bio-properties-panel-jenjang-role' },
        h('strong', null, text)),
      h('div', { class: 'bio-properties-panel-description' }, T.lane_help));
  }

  function FormKeyEntry(props) {
    var element = props.element;
    var current = readProperty(element.businessObject, 'formKey', 'formKey');
    var keys = config.forms.slice();
    var options = [h('option', { value: '', key: '' }, T.no_form)];
    if (current && keys.indexOf(current) === -1) {
      options.push(h('option', { value: current, key: current }, current + ' ' + T.unknown_form));
    }
    keys.forEach(function (k) { options.push(h('option', { value: k, key: k }, k)); });
    var select = h('select', {
      id: 'bio-properties-panel-jenjang-formKey',
      name: 'jenjang-formKey',
      class: 'bio-properties-panel-input',
      value: current,
      onChange: function (event) { writeProperty(element, 'formKey', event.target.value); }
    }, options);
    return entry('jenjang-formKey', T.form_key, select, null);
  }

  function textEntry(name, camundaName, label, help) {
    return function TextEntry(props) {
      var element = props.element;
      var id = 'bio-properties-panel-jenjang-' + name;
      // The panel re-renders after every change to the diagram. While the user is typing in
      // this field (not yet written: that happens on its change event), keep what they typed
      // instead of putting the model's value back.
      var active = document.activeElement;
      var typing = active && active.id === id ? active.value : null;
      var input = h('input', {
        id: id,
        name: 'jenjang-' + name,
        type: 'text',
        spellcheck: false,
        autocomplete: 'off',
        class: 'bio-properties-panel-input',
        value: typing !== null ? typing : readProperty(element.businessObject, name, camundaName),
        onChange: function (event) { writeProperty(element, name, event.target.value); }
      });
      return entry('jenjang-' + name, label, input, help);
    };
  }

  function isEdited(node) {
    return !!(node && node.value);
  }

  function JenjangPropertiesProvider(propertiesPanel) {
    propertiesPanel.registerProvider(500, this);
  }
  JenjangPropertiesProvider.$inject = ['propertiesPanel'];
  JenjangPropertiesProvider.prototype.getGroups = function (element) {
    return function (groups) {
      var type = element.businessObject && element.businessObject.$type;
      if (type !== 'bpmn:UserTask' && type !== 'bpmn:ManualTask') {
        return groups;
      }
      groups.splice(1, 0, {
        id: 'jenjang',
        label: T.jenjang,
        shouldOpen: true,
        entries: [
          { id: 'jenjang-role', component: RoleEntry },
          { id: 'jenjang-formKey', component: FormKeyEntry, isEdited: isEdited },
          {
            id: 'jenjang-assignee',
            component: textEntry('assignee', 'assignee', T.assignee, T.assignee_help),
            isEdited: isEdited
          },
          {
            id: 'jenjang-dueDate',
            component: textEntry('dueDate', 'dueDate', T.due, T.due_help),
            isEdited: isEdited
          }
        ]
      });
      return groups;
    };
  };
  var JenjangPropertiesModule = {
    __init__: ['jenjangPropertiesProvider'],
    jenjangPropertiesProvider: ['type', JenjangPropertiesProvider]
  };

  /* ---- status, requests ---------------------------------------------------------------- */
  function say(text, kind) {
    statusEl.textContent = text;
    statusEl.className = 'editor-status' + (kind ? ' ' + kind : '');
  }

  function busy(on) {
    buttons.forEach(function (b) { b.disabled = on; });
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        'X-CSRFToken': csrfToken
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return { error: response.status + ' ' + response.statusText };
      }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function failed(answer) {
    say(T.failed + ' ' + (answer.data && answer.data.error ? answer.data.error : answer.status),
      'err');
  }

  /* ---- problems on the diagram -------------------------------------------------------- */
  var marked = [];

  function diagramService(name) {
    if (config.kind === 'bpmn') {
      return modeler.get(name);
    }
    var viewer = modeler.getActiveViewer();
    var active = modeler.getActiveView();
    if (!viewer || !active || active.type !== 'drd') {
      return null;
    }
    try {
      return viewer.get(name);
    } catch (e) {
      return null;
    }
  }

  function shapeFor(id) {
    var registry = diagramService('elementRegistry');
    if (!registry || !id || id === '-') {
      return null;
    }
    var el = registry.get(id);
    if (!el) {
      el = registry.filter(function (e) {
        var ref = e.businessObject && e.businessObject.processRef;
        return !!ref && ref.id === id;
      })[0];
    }
    var canvas = diagramService('canvas');
    if (!el || el.type === 'label' || (canvas && el === canvas.getRootElement())) {
      return null;
    }
    return el;
  }

  function clearProblems() {
    var canvas = diagramService('canvas');
    var overlays = diagramService('overlays');
    marked.forEach(function (m) {
      if (canvas) {
        canvas.removeMarker(m.id, m.cls);
      }
    });
    marked = [];
    if (overlays) {
      overlays.remove({ type: 'jenjang-problem' });
    }
    problemsEl.textContent = '';
  }

  function focusElement(shape) {
    var selection = diagramService('selection');
    var canvas = diagramService('canvas');
    if (selection) {
      selection.select(shape);
    }
    if (canvas) {
      // Life size, the element in the middle of the canvas with its note beneath it.
      canvas.zoom(1);
      var box = canvas.viewbox();
      canvas.viewbox({
        x: shape.x + (shape.width || 0) / 2 - box.width / 2,
        y: shape.y + (shape.height || 0) / 2 - box.height / 2,
        width: box.width,
        height: box.height
      });
    }
  }

  function showProblems(problems) {
    clearProblems();
    var canvas = diagramService('canvas');
    var overlays = diagramService('overlays');
    var notes = {};
    problems.forEach(function (p) {
      var severity = p.severity === 'warning' ? 'warning' : 'error';
      var shape = shapeFor(p.element);
      var li = document.createElement('li');
      li.className = severity;
      li.setAttribute('data-element', p.element);
      var label = (severity === 'error' ? T.error : T.warning) + ': ';
      var where = p.element && p.element !== '-' ? p.element : p.file;
      if (shape) {
        var name = shape.businessObject && shape.businessObject.name;
        var link = document.createElement('button');
        link.type = 'button';
        link.className = 'link';
        link.textContent = name ? name + ' (' + where + ')' : where;
        link.addEventListener('click', function () { focusElement(shape); });
        li.appendChild(document.createTextNode(label));
        li.appendChild(link);
        li.appendChild(document.createTextNode(': ' + p.message));
        var cls = 'jenjang-' + severity;
        if (canvas && !(shape.id + cls in notes)) {
          canvas.addMarker(shape.id, cls);
          marked.push({ id: shape.id, cls: cls });
        }
        if (overlays && !(shape.id in notes)) {
          var note = document.createElement('div');
          note.className = 'jenjang-problem ' + severity;
          note.setAttribute('data-problem-element', shape.id);
          note.textContent = p.message;
          overlays.add(shape.id, 'jenjang-problem', { position: { bottom: -4, left: 0 }, html: note });
          notes[shape.id] = true;
        }
        notes[shape.id + cls] = true;
      } else {
        li.textContent = label + where + ': ' + p.message;
      }
      problemsEl.appendChild(li);
    });
  }

  /* ---- the actions --------------------------------------------------------------------- */
  function saveDraft() {
    return currentXml().then(function (xml) {
      return post(config.urls.save, { file: config.file, xml: xml });
    }).then(function (answer) {
      if (!answer.ok) {
        failed(answer);
        return false;
      }
      dirty = false;
      say(T.saved, 'ok');
      return true;
    });
  }

  function validateDiagram() {
    return currentXml().then(function (xml) {
      return post(config.urls.validate, { file: config.file, xml: xml });
    }).then(function (answer) {
      if (!answer.ok) {
        failed(answer);
        return;
      }
      var problems = answer.data.problems || [];
      showProblems(problems);
      summaryEl.textContent = answer.data.valid ? T.valid : T.invalid;
      say(answer.data.valid ? T.valid : T.invalid, answer.data.valid ? 'ok' : 'err');
    });
  }

  function deployDiagram() {
    return saveDraft().then(function (saved) {
      if (!saved) {
        return null;
      }
      return post(config.urls.deploy, { file: config.file });
    }).then(function (answer) {
      if (!answer) {
        return;
      }
      if (answer.status === 422 && answer.data.problems) {
        showProblems(answer.data.problems);
        summaryEl.textContent = T.invalid;
        say(T.refused, 'err');
        return;
      }
      if (!answer.ok) {
        failed(answer);
        return;
      }
      showProblems(answer.data.problems || []);
      var changed = (answer.data.deployed || []).filter(function (d) { return d.changed; });
      if (!changed.length) {
        say(T.unchanged, 'ok');
        return;
      }
      say(T.deployed + ' ' + changed.map(function (d) {
        return d.key + ' ' + T.version + ' ' + d.version;
      }).join(', '), 'ok');
    });
  }

  function exportXml() {
    return currentXml().then(function (xml) {
      var blob = new Blob([xml], { type: 'application/xml' });
      var a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = config.file;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () {
        URL.revokeObjectURL(a.href);
        a.remove();
      }, 0);
    });
  }

  function action(fn) {
    return function () {
      busy(true);
      fn().catch(function (err) {
        say(T.failed + ' ' + (err && err.message ? err.message : err), 'err');
      }).then(function () { busy(false); });
    };
  }

  /* ---- start ----------------------------------------------------------------------------- */
  function changed() {
    dirty = true;
    say(T.unsaved, '');
  }

  function startBpmn() {
    var panel = window.BpmnJSPropertiesPanel;
    modeler = new window.BpmnJS({
      container: '#canvas',
      propertiesPanel: { parent: '#properties' },
      additionalModules: [
        panel.BpmnPropertiesPanelModule,
        panel.BpmnPropertiesProviderModule,
        JenjangPropertiesModule
      ]
    });
    return modeler.importXML(config.xml).then(function (result) {
      modeler.get('canvas').zoom('fit-viewport');
      modeler.on('commandStack.changed', changed);
      return result;
    });
  }

  function startDmn() {
    var watched = [];
    modeler = new window.DmnJS({ container: '#canvas' });
    modeler.on('views.changed', function () {
      var viewer = modeler.getActiveViewer();
      if (viewer && watched.indexOf(viewer) === -1) {
        watched.push(viewer);
        viewer.on('commandStack.changed', changed);
      }
    });
    return modeler.importXML(config.xml).then(function (result) {
      var table = modeler.getViews().filter(function (v) { return v.type === 'decisionTable'; })[0];
      return (table ? modeler.open(table) : Promise.resolve()).then(function () { return result; });
    });
  }

  (config.kind === 'bpmn' ? startBpmn() : startDmn()).then(function (result) {
    var warnings = (result && result.warnings) || [];
    if (warnings.length) {
      say(warnings.length + ' ' + T.warning + ': ' + warnings[0].message, 'err');
    }
    document.body.setAttribute('data-editor-ready', 'true');
  }).catch(function (err) {
    say(T.failed + ' ' + (err && err.message ? err.message : err), 'err');
  });

  document.getElementById('btn-save').addEventListener('click', action(saveDraft));
  document.getElementById('btn-validate').addEventListener('click', action(validateDiagram));
  document.getElementById('btn-deploy').addEventListener('click', action(deployDiagram));
  document.getElementById('btn-export').addEventListener('click', action(exportXml));
  window.addEventListener('beforeunload', function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = T.confirm_leave;
    }
  });
  window.jenjangEditor = {
    modeler: function () { return modeler; },
    isDirty: function () { return dirty; }
  };
}());
