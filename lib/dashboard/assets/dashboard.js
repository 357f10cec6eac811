// faye-online dashboard: plain browser JavaScript, no framework, no build step.
// Every page reads JSON from data/ (relative to the mount) and shows tables one
// page at a time; the server pages them, so 10,000 members stay light. Text
// from the server goes into the page as text only (names come from users' pages).
'use strict';
(function () {
  var config = null;
  var view = document.getElementById('view');
  var messageBox = document.getElementById('message');
  var stopPage = function () {};

  // -- small helpers ---------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      if (key === 'text') node.textContent = attrs[key];
      else if (key === 'className') node.className = attrs[key];
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), attrs[key]);
      else if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child); });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showMessage(text) {
    messageBox.textContent = text;
    messageBox.hidden = !text;
  }

  /** GET data/<path>; rejects with the server's own message (400: bad input, 403: not allowed). */
  function getJson(path, params) {
    return fetch(url(path, params), { headers: { Accept: 'application/json' }, credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (body) {
        var data = null;
        try { data = JSON.parse(body); } catch (e) { /* not JSON: a proxy's page */ }
        if (!res.ok) throw new Error(data && data.error ? data.error : 'the server answered ' + res.status + ' ' + res.statusText);
        return data;
      });
    });
  }

  function url(path, params) {
    var query = new URLSearchParams();
    for (var key in params || {}) if (params[key] !== undefined && params[key] !== null && params[key] !== '') query.set(key, params[key]);
    var text = query.toString();
    return 'data/' + path + (text ? '?' + text : '');
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '';
    var s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 3600) + ':' + pad(Math.floor(s / 60) % 60) + ':' + pad(s % 60);
  }

  var timeFormat = null;
  function formatTime(value) {
    if (value === null || value === undefined) return '';
    // sv-SE writes 2026-05-01 08:00:00: unambiguous, sortable, in the server's zone.
    timeFormat = timeFormat || new Intl.DateTimeFormat('sv-SE', { timeZone: config.timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    return timeFormat.format(new Date(value));
  }

  function cellText(column, value) {
    if (value === null || value === undefined) return '';
    if (column.kind === 'seconds') return duration(value);
    if (column.kind === 'time') return formatTime(value);
    if (value === true) return 'yes';
    if (value === false) return 'no';
    return String(value);
  }

  /** Hash routes: #page?key=value&... */
  function route() {
    var hash = location.hash.replace(/^#/, '');
    var at = hash.indexOf('?');
    var page = (at < 0 ? hash : hash.slice(0, at)) || 'live';
    var params = {};
    new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)).forEach(function (value, key) { params[key] = value; });
    return { page: page, params: params };
  }

  function go(page, params) {
    var query = new URLSearchParams();
    for (var key in params) if (params[key] !== undefined && params[key] !== '') query.set(key, params[key]);
    var text = query.toString();
    var target = '#' + page + (text ? '?' + text : '');
    if (location.hash === target) render();
    else location.hash = target;
  }

  // -- tables ----------------------------------------------------------------

  /**
   * A paged table: `load(offset)` fetches one page ({columns, rows, total,
   * offset, limit}); `csv` is the export link of the whole table.
   */
  function pagedTable(options) {
    var box = el('div', { className: 'paged', 'data-table': options.name });
    var offset = options.offset || 0;
    var last = null;
    function draw(page) {
      last = page;
      box.textContent = '';
      var head = el('tr', {}, page.columns.map(function (c) { return el('th', { className: c.kind, text: c.label }); }));
      var body = el('tbody', {}, page.rows.length ? page.rows.map(function (row) {
        var tr = el('tr', { className: options.onRow ? 'clickable' : '', 'data-key': options.key ? String(row[options.key]) : null },
          page.columns.map(function (c) { return el('td', { className: c.kind, 'data-column': c.key, text: cellText(c, row[c.key]) }); }));
        if (options.onRow) tr.addEventListener('click', function () { options.onRow(row); });
        if (options.selected && options.selected(row)) tr.classList.add('selected');
        return tr;
      }) : [el('tr', {}, [el('td', { colspan: String(page.columns.length), className: 'muted', text: options.empty || 'nothing here' })])]);
      box.appendChild(el('table', {}, [el('thead', {}, [head]), body]));
      var end = Math.min(page.offset + page.rows.length, page.total);
      if (options.pager === false) return;
      box.appendChild(el('div', { className: 'pager' }, [
        el('button', { className: 'secondary', type: 'button', 'data-action': 'previous', onclick: function () { move(-1); } }, ['‹ previous']),
        el('span', { 'data-role': 'range', text: page.total ? (page.offset + 1) + '–' + end + ' of ' + page.total : '0 rows' }),
        el('button', { className: 'secondary', type: 'button', 'data-action': 'next', onclick: function () { move(1); } }, ['next ›']),
        options.csv ? el('a', { className: 'button secondary', href: options.csv, download: '', 'data-action': 'csv' }, ['CSV']) : null,
      ]));
      box.querySelector('[data-action=previous]').disabled = page.offset === 0;
      box.querySelector('[data-action=next]').disabled = end >= page.total;
    }
    function move(direction) {
      if (!last) return;
      offset = Math.max(0, last.offset + direction * last.limit);
      reload();
    }
    function reload() {
      return options.load(offset).then(function (page) {
        if (page.total > 0 && page.offset >= page.total) { offset = Math.max(0, page.total - page.limit); return reload(); }
        draw(page);
        return page;
      });
    }
    return { node: box, reload: reload, draw: draw };
  }

  function form(fields, values, submit) {
    var inputs = {};
    var node = el('form', { onsubmit: function (event) {
      event.preventDefault();
      var params = {};
      for (var key in inputs) params[key] = inputs[key].value.trim();
      submit(params);
    } }, fields.map(function (f) {
      inputs[f.name] = el('input', { name: f.name, type: 'text', placeholder: f.placeholder, value: values[f.name] || '', size: f.size || 22 });
      return el('label', {}, [f.label, inputs[f.name]]);
    }).concat([el('button', { type: 'submit' }, ['Show'])]));
    return node;
  }

  function heading(text) { return el('h2', { text: text }); }

  function failed(error) { showMessage(error.message); }

  // -- live updates ----------------------------------------------------------

  var events = null;
  var listeners = [];
  /** Calls `onChange(change)` for every join/leave/arrive/depart/engagement the server sees; returns the unsubscribe. */
  function onPresence(onChange) {
    if (!events) {
      events = new EventSource('data/events');
      events.addEventListener('presence', function (event) {
        var change = JSON.parse(event.data);
        listeners.slice().forEach(function (listener) { listener(change); });
      });
      events.onopen = function () { document.body.setAttribute('data-live', 'on'); };
      events.onerror = function () { document.body.setAttribute('data-live', 'off'); };
    }
    listeners.push(onChange);
    return function () { listeners = listeners.filter(function (l) { return l !== onChange; }); };
  }

  /** Runs `refresh` at most every 300 ms after changes, and every refreshSeconds anyway (other processes' changes). */
  function keepFresh(refresh, relevant) {
    var pending = null;
    var stop = onPresence(function (change) {
      if (!relevant(change) || pending) return;
      pending = setTimeout(function () { pending = null; refresh(); }, 300);
    });
    var timer = setInterval(refresh, config.refreshSeconds * 1000);
    return function () { stop(); clearInterval(timer); clearTimeout(pending); };
  }

  // -- pages -----------------------------------------------------------------

  var pages = {};

  pages.live = function (params) {
    var room = params.room;
    var rooms = pagedTable({
      name: 'rooms', key: 'room', empty: 'no rooms yet',
      load: function (offset) { return getJson('rooms', { offset: offset, limit: 20 }); },
      onRow: function (row) { go('live', { room: row.room }); },
      selected: function (row) { return row.room === room; },
      csv: url('rooms', { format: 'csv' }),
    });
    var left = el('div', {}, [heading('Rooms'), rooms.node]);
    var right = el('div', { id: 'members' });
    view.appendChild(el('div', { className: 'split' }, [left, right]));
    var members = null;
    var memberChannels = {};
    if (room) {
      right.appendChild(el('h2', {}, [el('span', { className: 'live-dot on', title: 'updates live' }), 'Members of ' + room]));
      members = pagedTable({
        name: 'members', key: 'uid', empty: 'nobody is online in this room', offset: Number(params.offset) || 0,
        load: function (offset) {
          return getJson('members', { room: room, offset: offset }).then(function (page) {
            memberChannels = {};
            page.rows.forEach(function (row) { if (row.timeChannel) memberChannels[row.timeChannel] = true; });
            return page;
          });
        },
        onRow: function (row) { go('user', { uid: row.uid, channel: row.timeChannel || '' }); },
        csv: url('members', { room: room, format: 'csv' }),
      });
      right.appendChild(members.node);
    } else {
      right.appendChild(el('p', { className: 'muted', text: 'Choose a room to see who is in it, with their tabs and engaged state. The list updates live.' }));
    }
    function refresh() {
      rooms.reload().catch(failed);
      if (members) members.reload().then(function () { showMessage(''); }, failed);
    }
    refresh();
    return keepFresh(refresh, function (change) {
      return change.kind === 'join' || change.kind === 'leave' || (room && (change.channel === room || memberChannels[change.channel]));
    });
  };

  pages.time = function (params) {
    view.appendChild(heading('Time per time channel'));
    view.appendChild(form([
      { name: 'channel', label: 'Time channel', placeholder: '/courses/5/lessons/1', size: 28 },
      { name: 'from', label: 'From (optional)', placeholder: '2026-05-01T08:00' },
      { name: 'to', label: 'To (optional)', placeholder: '2026-05-01T10:00' },
    ], params, function (values) { go('time', values); }));
    view.appendChild(el('p', { className: 'muted', text: 'Without a range: all-time online and engaged time (running sessions included). With one: the login log\'s sessions inside it, each user\'s tabs counted once.' }));
    if (!params.channel) return;
    var summary = el('div', { className: 'cards' });
    var chart = el('div', { id: 'distribution' });
    var query = { channel: params.channel, from: params.from, to: params.to };
    var table = pagedTable({
      name: 'time', key: 'uid', empty: 'nobody has time in this channel',
      load: function (offset) {
        return getJson('time', Object.assign({ offset: offset }, query)).then(function (page) {
          summary.textContent = '';
          summary.appendChild(card('Users', String(page.users)));
          summary.appendChild(card('Total online', duration(page.totalSeconds)));
          summary.appendChild(card('Source', page.source === 'loginLogs' ? 'login log, ' + (page.from ? formatTime(page.from) : 'the start') + ' – ' + (page.to ? formatTime(page.to) : 'now') : 'all-time totals'));
          chart.textContent = '';
          chart.appendChild(el('h3', { text: 'Distribution: users per amount of time' }));
          chart.appendChild(histogram(page.distribution, page.columns.some(function (c) { return c.key === 'engagedSeconds'; })));
          return page;
        });
      },
      onRow: function (row) { go('user', { uid: row.uid, channel: params.channel, from: params.from, to: params.to }); },
      csv: url('time', Object.assign({ format: 'csv' }, query)),
    });
    view.appendChild(summary);
    view.appendChild(chart);
    view.appendChild(el('h3', { text: 'Users' }));
    view.appendChild(table.node);
    table.reload().catch(failed);
  };

  function card(label, value, className) {
    return el('div', { className: 'card' }, [el('div', { className: 'muted', text: label }), el('div', { className: 'value ' + (className || ''), text: value })]);
  }

  function histogram(bins, withEngaged) {
    var width = 760, height = 220, left = 40, bottom = 40, top = 24;
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img', 'aria-label': 'users per amount of time', 'data-chart': 'distribution' });
    if (!bins.length) { chart.appendChild(svg('text', { x: 20, y: 30 }, 'no users')); return chart; }
    var max = Math.max.apply(null, bins.map(function (b) { return Math.max(b.online, b.engaged); }));
    var slot = (width - left - 10) / bins.length;
    var bar = withEngaged ? slot * 0.4 : slot * 0.8;
    var scale = (height - top - bottom) / max;
    [0, max].forEach(function (v) {
      var y = height - bottom - v * scale;
      chart.appendChild(svg('line', { x1: left, x2: width - 10, y1: y, y2: y, class: 'grid' }));
      chart.appendChild(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, String(v)));
    });
    bins.forEach(function (b, i) {
      var x = left + i * slot + slot * 0.1;
      var h = b.online * scale;
      chart.appendChild(svg('rect', { x: x, y: height - bottom - h, width: bar, height: h, class: 'bar-online', 'data-online': b.online }));
      if (withEngaged) {
        var he = b.engaged * scale;
        chart.appendChild(svg('rect', { x: x + bar, y: height - bottom - he, width: bar, height: he, class: 'bar-engaged', 'data-engaged': b.engaged }));
      }
      chart.appendChild(svg('text', { x: x + (withEngaged ? bar : bar / 2), y: height - bottom + 14, 'text-anchor': 'middle' }, shortDuration(b.from)));
    });
    chart.appendChild(svg('text', { x: width - 10, y: height - 6, 'text-anchor': 'end' }, 'time (h:mm) →'));
    chart.appendChild(svg('rect', { x: left, y: 6, width: 10, height: 10, class: 'legend-online' }));
    chart.appendChild(svg('text', { x: left + 14, y: 15 }, 'online'));
    if (withEngaged) {
      chart.appendChild(svg('rect', { x: left + 70, y: 6, width: 10, height: 10, class: 'legend-engaged' }));
      chart.appendChild(svg('text', { x: left + 84, y: 15 }, 'engaged'));
    }
    return chart;
  }

  function shortDuration(seconds) {
    return Math.floor(seconds / 3600) + ':' + pad(Math.floor(seconds / 60) % 60);
  }

  pages.user = function (params) {
    view.appendChild(heading('One user'));
    view.appendChild(form([
      { name: 'uid', label: 'uid', placeholder: '42', size: 8 },
      { name: 'channel', label: 'Time channel (optional)', placeholder: '/courses/5/lessons/1', size: 28 },
      { name: 'from', label: 'From (optional)', placeholder: '2026-05-01T08:00' },
      { name: 'to', label: 'To (optional)', placeholder: '2026-05-01T10:00' },
    ], params, function (values) { go('user', values); }));
    if (!params.uid) return;
    var query = { uid: params.uid, channel: params.channel, from: params.from, to: params.to };
    var timelines = el('div', { id: 'timelines' });
    var table = pagedTable({
      name: 'user', empty: 'no sessions in this range',
      load: function (offset) {
        return getJson('user', Object.assign({ offset: offset }, query)).then(function (page) {
          timelines.textContent = '';
          page.timelines.forEach(function (t) { timelines.appendChild(timeline(t, page)); });
          if (!page.timelines.length) timelines.appendChild(el('p', { className: 'muted', text: 'No sessions of user ' + params.uid + ' in this range.' }));
          return page;
        });
      },
      csv: url('user', Object.assign({ format: 'csv' }, query)),
    });
    view.appendChild(timelines);
    view.appendChild(el('h3', { text: 'Sessions' }));
    view.appendChild(table.node);
    table.reload().catch(failed);
  };

  /** One time channel of a user: a row per tab with its sessions, and their union (the time that counts). */
  function timeline(t, page) {
    var box = el('div', { className: 'timeline', 'data-channel': t.channel });
    box.appendChild(el('h3', { text: t.channel }));
    var cards = el('div', { className: 'cards' }, [
      card('Online in this range', duration(t.totalSeconds)),
      card('All-time online', duration(t.allTime.onlineSeconds)),
    ]);
    if (t.allTime.engagedSeconds !== null) cards.appendChild(card('All-time engaged', duration(t.allTime.engagedSeconds)));
    box.appendChild(cards);
    var all = t.tabs.flatMap(function (tab) { return tab.sessions; }).concat(t.online);
    var start = Math.min.apply(null, all.map(function (x) { return Date.parse(x.start); }));
    var end = Math.max.apply(null, all.map(function (x) { return Date.parse(x.end); }));
    if (!(end > start)) end = start + 1000;
    var width = 900, label = 170, row = 22, top = 22;
    var height = top + (t.tabs.length + 1) * row + 24;
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img', 'aria-label': 'sessions of each tab', 'data-chart': 'timeline' });
    var x = function (ms) { return label + (ms - start) / (end - start) * (width - label - 10); };
    chart.appendChild(svg('text', { x: label, y: 14 }, formatTime(start)));
    chart.appendChild(svg('text', { x: width - 10, y: 14, 'text-anchor': 'end' }, formatTime(end)));
    t.tabs.forEach(function (tab, i) {
      var y = top + i * row;
      chart.appendChild(svg('text', { x: 4, y: y + 14 }, 'tab ' + tab.clientId.slice(0, 12)));
      tab.sessions.forEach(function (s) {
        var a = x(Date.parse(s.start)), b = x(Date.parse(s.end));
        chart.appendChild(svg('rect', { x: a, y: y + 3, width: Math.max(2, b - a), height: row - 8, class: 'session' + (s.open ? ' open' : '') }));
      });
    });
    var y = top + t.tabs.length * row;
    chart.appendChild(svg('text', { x: 4, y: y + 14 }, 'online (merged)'));
    t.online.forEach(function (s) {
      var a = x(Date.parse(s.start)), b = x(Date.parse(s.end));
      chart.appendChild(svg('rect', { x: a, y: y + 3, width: Math.max(2, b - a), height: row - 8, class: 'merged', 'data-interval': '' }));
    });
    box.appendChild(chart);
    return box;
  }

  pages.attendance = function (params) {
    view.appendChild(heading('Attendance'));
    view.appendChild(form([
      { name: 'channel', label: 'Time channel', placeholder: '/courses/5/lessons/1', size: 28 },
      { name: 'from', label: 'From', placeholder: '2026-05-01T08:00' },
      { name: 'to', label: 'To', placeholder: '2026-05-01T10:00' },
    ], params, function (values) { go('attendance', values); }));
    view.appendChild(el('p', { className: 'muted', text: 'Who was in the time channel between the two times, from the login log: first and last time seen, tabs, sessions, and online time inside the range.' }));
    if (!params.channel && !params.from && !params.to) return;
    var note = el('div');
    var query = { channel: params.channel, from: params.from, to: params.to };
    var table = pagedTable({
      name: 'attendance', key: 'uid', empty: 'nobody attended in this range',
      load: function (offset) {
        return getJson('attendance', Object.assign({ offset: offset }, query)).then(function (page) {
          note.textContent = '';
          if (page.note) note.appendChild(el('p', { className: 'note', text: page.note }));
          return page;
        });
      },
      onRow: function (row) { go('user', query.from ? { uid: row.uid, channel: params.channel, from: params.from, to: params.to } : { uid: row.uid }); },
      csv: url('attendance', Object.assign({ format: 'csv' }, query)),
    });
    view.appendChild(note);
    view.appendChild(table.node);
    table.reload().catch(failed);
  };

  pages.health = function () {
    view.appendChild(heading('Health'));
    var box = el('div', { id: 'health' });
    view.appendChild(box);
    function refresh() {
      return getJson('health').then(function (h) {
        box.textContent = '';
        var cards = el('div', { className: 'cards' }, [
          card('Backend', h.backend),
          card('Database (' + h.database.dialect + ')', h.database.ok ? 'ok, ' + h.database.latencyMs + ' ms' : 'down: ' + h.database.error, h.database.ok ? 'ok' : 'bad'),
          h.redis ? card('Redis', h.redis.ok ? 'ok, ' + h.redis.latencyMs + ' ms' : 'down: ' + h.redis.error, h.redis.ok ? 'ok' : 'bad') : card('Redis', 'not used (embedded)'),
          card('Processes', String(h.processes.length)),
        ]);
        if (h.totals) {
          cards.appendChild(card('Users online', String(h.totals.usersOnline)));
          cards.appendChild(card('Rooms with users', h.totals.occupiedRooms + ' of ' + h.totals.rooms));
        }
        box.appendChild(cards);
        box.appendChild(el('h3', { text: 'Processes' }));
        var processes = pagedTable({ name: 'processes', pager: false, load: function () { return Promise.resolve(null); } });
        processes.draw({
          columns: [
            { key: 'id', label: 'Process', kind: 'text' }, { key: 'startedAt', label: 'Started', kind: 'time' },
            { key: 'lastBeat', label: 'Last heartbeat', kind: 'time' }, { key: 'trackedClientIds', label: 'Tabs tracked', kind: 'number' }, { key: 'self', label: 'This one', kind: 'text' },
          ],
          rows: h.processes, total: h.processes.length, offset: 0, limit: h.processes.length,
        });
        box.appendChild(processes.node);
        box.appendChild(el('h3', { text: 'Last reconciliation' }));
        if (!h.reconciliation) box.appendChild(el('p', { className: 'muted', text: 'none yet' }));
        else {
          var r = h.reconciliation;
          box.appendChild(el('p', { 'data-role': 'reconciliation', text: formatTime(r.at) + ' by ' + r.by + ': ' + r.orphanClientIds + ' orphan clientIds, ' + r.listsRepaired + ' online lists repaired, ' + r.timersStopped + ' timers stopped, ' + r.engagementsStopped + ' engaged sessions stopped' }));
          if (r.details.length) box.appendChild(el('ul', {}, r.details.map(function (d) { return el('li', { text: d }); })));
        }
        box.appendChild(el('h3', { text: 'Metrics' }));
        if (!h.metrics) box.appendChild(el('p', { className: 'muted', text: 'Prometheus metrics are off (the `metrics` option).' }));
        else box.appendChild(el('table', {}, [el('tbody', {}, h.metrics.map(function (m) { return el('tr', {}, [el('td', { text: m.name }), el('td', { className: 'number', text: String(m.value) })]); }))]));
        box.appendChild(el('p', { className: 'muted', text: 'As of ' + formatTime(h.now) + '; refreshed every ' + config.refreshSeconds + ' s.' }));
        showMessage('');
      }, failed);
    }
    refresh();
    var timer = setInterval(refresh, config.refreshSeconds * 1000);
    return function () { clearInterval(timer); };
  };

  function render() {
    stopPage();
    stopPage = function () {};
    showMessage('');
    view.textContent = '';
    var current = route();
    var page = pages[current.page] ? current.page : 'live';
    document.querySelectorAll('nav a').forEach(function (a) { a.classList.toggle('current', a.getAttribute('data-page') === page); });
    document.body.setAttribute('data-page', page);
    var stop = pages[page](current.params);
    if (typeof stop === 'function') stopPage = stop;
  }

  getJson('config').then(function (c) {
    config = c;
    document.getElementById('zone').textContent = 'Times in ' + c.timeZone + (c.cluster ? ' · cluster' : ' · embedded');
    window.addEventListener('hashchange', render);
    render();
  }, failed);
})();
