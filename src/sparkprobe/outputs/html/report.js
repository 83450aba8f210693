// sparkprobe HTML report: the crosshair, the legend highlight and sortable tables.
// Inlined at the end of the page (outputs/html/__init__.py). It reads data-* attributes and text
// only, never evaluates them nor writes markup from them (no innerHTML), and loads nothing.
(function () {
  'use strict';
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // Offsets and bytes as the Python side formats them (outputs/units.py: format_offset, format_bytes).
  function rel(ms) {
    var s = ms / 1000, sign = s < 0 ? '-' : '+';
    s = Math.abs(s);
    if (s < 60) return sign + s.toFixed(1) + 's';
    if (s < 3600) {
      var m = Math.floor(s / 60), x = Math.floor(s % 60);
      return sign + m + 'm' + (x < 10 ? '0' : '') + x + 's';
    }
    var h = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60);
    return sign + h + 'h' + (mm < 10 ? '0' : '') + mm + 'm';
  }
  function bytes(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i ? n.toFixed(1) + ' ' + u[i] : n.toFixed(0) + ' B';
  }
  var readouts = {
    bytes: bytes,
    number: function (v) { return v.toLocaleString('en-US', {maximumFractionDigits: 2}); },
    percent: function (v) { return (v * 100).toFixed(0) + '%'; }
  };
  function points(svg) {
    var raw = svg.getAttribute('data-points');
    if (!raw) return null;
    return raw.split(';').map(function (p) { var a = p.split(','); return [+a[0], +a[1]]; });
  }
  function valueAt(pts, t) {
    var v = 0;
    for (var i = 0; i < pts.length && pts[i][0] <= t; i++) v = pts[i][1];
    return v;
  }

  // Crosshair: the charts of one app (section.app) share it; a chart outside an app has its own.
  function crosshair(charts) {
    var data = charts.map(function (svg) {
      return {
        svg: svg, t0: +svg.getAttribute('data-t0'), t1: +svg.getAttribute('data-t1'),
        x0: +svg.getAttribute('data-x0'), pw: +svg.getAttribute('data-pw'), pts: points(svg),
        fmt: readouts[svg.getAttribute('data-readout')] || readouts.number,
        suffix: svg.getAttribute('data-suffix') || '',
        line: svg.querySelector('.xhair'), label: svg.querySelector('.xhair-label')
      };
    });
    function hide() {
      data.forEach(function (d) {
        if (!d.line) return;
        d.line.setAttribute('visibility', 'hidden');
        d.label.setAttribute('visibility', 'hidden');
      });
    }
    function show(t) {
      data.forEach(function (d) {
        if (!d.line) return;
        var x = d.x0 + (t - d.t0) / (d.t1 - d.t0) * d.pw;
        d.line.setAttribute('x1', x);
        d.line.setAttribute('x2', x);
        d.line.setAttribute('visibility', 'visible');
        var text = rel(t - d.t0);
        if (d.pts) text += '  ' + d.fmt(valueAt(d.pts, t)) + d.suffix;
        d.label.textContent = text;
        var right = x > d.x0 + d.pw * 0.8;
        d.label.setAttribute('x', right ? x - 6 : x + 6);
        d.label.setAttribute('text-anchor', right ? 'end' : 'start');
        d.label.setAttribute('visibility', 'visible');
      });
    }
    data.forEach(function (d) {
      d.svg.addEventListener('mousemove', function (ev) {
        var m = d.svg.getScreenCTM();
        if (!m) return;
        var p = d.svg.createSVGPoint();
        p.x = ev.clientX;
        p.y = ev.clientY;
        var q = p.matrixTransform(m.inverse());
        if (q.x < d.x0 || q.x > d.x0 + d.pw || !(d.t1 > d.t0)) { hide(); return; }
        show(d.t0 + (q.x - d.x0) / d.pw * (d.t1 - d.t0));
      });
      d.svg.addEventListener('mouseleave', hide);
    });
  }

  // Legend: pressing an entry fades every other state of the app's timeline (CSS data-focus rules).
  function legend(sec) {
    var buttons = sec.querySelectorAll('.legend .lg');
    each(buttons, function (btn) {
      btn.addEventListener('click', function () {
        var s = btn.getAttribute('data-state'), on = sec.getAttribute('data-focus') === s;
        each(buttons, function (b) { b.setAttribute('aria-pressed', 'false'); });
        if (on) {
          sec.removeAttribute('data-focus');
        } else {
          sec.setAttribute('data-focus', s);
          btn.setAttribute('aria-pressed', 'true');
        }
      });
    });
  }

  // Sortable tables (outputs/html/table.py): a click on a header sorts every row of the table,
  // the folded rest included, then refills the first data-limit rows and folds the others again.
  function key(row, col, numeric) {
    var c = row.cells[col], v = c ? (c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.textContent) : '';
    if (!numeric) return v;
    var n = parseFloat(v);
    return isNaN(n) ? -Infinity : n;
  }
  function sortable(box) {
    var bodies = box.querySelectorAll('tbody'), limit = +box.getAttribute('data-limit');
    var heads = box.querySelectorAll('thead tr');
    each(heads, function (tr) {
      each(tr.cells, function (th, col) {
        var button = th.querySelector('button.sort');
        if (!button) return;
        button.addEventListener('click', function () {
          var numeric = th.getAttribute('data-sort-type') === 'num';
          var up = th.getAttribute('aria-sort') !== 'ascending';
          var rows = [];
          each(bodies, function (b) { each(b.rows, function (r) { rows.push(r); }); });
          rows.sort(function (a, b) {
            var x = key(a, col, numeric), y = key(b, col, numeric);
            var c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : String(x).localeCompare(String(y));
            return up ? c : -c;
          });
          rows.forEach(function (r, i) { bodies[bodies.length > 1 && i >= limit ? 1 : 0].appendChild(r); });
          each(heads, function (h) {
            each(h.cells, function (cell, i) {
              if (cell.hasAttribute('aria-sort')) {
                cell.setAttribute('aria-sort', i === col ? (up ? 'ascending' : 'descending') : 'none');
              }
            });
          });
        });
      });
    });
  }

  var grouped = [];
  each(document.querySelectorAll('section.app'), function (sec) {
    crosshair(Array.prototype.slice.call(sec.querySelectorAll('svg.chart[data-t0]')));
    legend(sec);
  });
  each(document.querySelectorAll('svg.chart[data-t0]'), function (svg) {
    if (!svg.closest('section.app')) grouped.push(svg);
  });
  grouped.forEach(function (svg) { crosshair([svg]); });
  each(document.querySelectorAll('div.tbl'), sortable);
  document.documentElement.setAttribute('data-sparkprobe-js', 'ok');
})();
