// The demo page: join a room as a named user, watch who else is online, and see
// your online time in the lesson. Presence comes from window.FayeOnline (served
// at /faye-online.js); the initial lists come from the demo's /api endpoints.
(function () {
  'use strict';

  var STORAGE_KEY = 'faye-online-demo';
  var FEED_LIMIT = 40;
  var SAMPLE_NAMES = ['Ada', 'Grace', 'Alan', 'Barbara', 'Edsger', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia'];

  var $ = function (id) { return document.getElementById(id); };
  var session = null;

  // ---- preferences -------------------------------------------------------

  function loadPrefs() {
    var saved = {};
    try { saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}') || {}; } catch (e) { saved = {}; }
    return {
      name: typeof saved.name === 'string' && saved.name.trim() ? saved.name : SAMPLE_NAMES[Math.floor(Math.random() * SAMPLE_NAMES.length)],
      room: typeof saved.room === 'string' && /^[A-Za-z0-9]+$/.test(saved.room) ? saved.room : 'lobby',
      lesson: typeof saved.lesson === 'string' && /^[A-Za-z0-9]+$/.test(saved.lesson) ? saved.lesson : 'intro',
      joined: saved.joined === true,
    };
  }

  function savePrefs(prefs) {
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(prefs)); } catch (e) { /* private mode: not remembered */ }
  }

  // The same name is the same user in every tab and browser: a stable uid
  // derived from the name (FNV-1a), in the positive int(11) range the tables use.
  function uidFor(name) {
    var text = name.trim().toLowerCase();
    var hash = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return (hash % 2147483646) + 1;
  }

  // ---- small view helpers ------------------------------------------------

  function initials(name) {
    var words = name.trim().split(/\s+/).filter(Boolean);
    var letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
    return letters.toUpperCase();
  }

  function avatar(user, size) {
    var el = document.createElement('span');
    el.className = 'avatar' + (size ? ' avatar-' + size : '');
    el.style.setProperty('--hue', String((user.uid * 47) % 360));
    el.textContent = initials(user.uname);
    el.setAttribute('aria-hidden', 'true');
    return el;
  }

  function clockText(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return h + ':' + String(m).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }

  function timeOfDay(date) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  var STATE_TEXT = { idle: 'not connected', connecting: 'connecting…', online: 'online', offline: 'offline · reconnecting…', left: 'left' };

  function showState(state) {
    var el = $('state');
    el.className = 'state state-' + state;
    el.textContent = STATE_TEXT[state] || state;
  }

  // ---- members -----------------------------------------------------------

  function renderMembers() {
    var list = $('members');
    var members = Array.from(session.members.values()).sort(function (a, b) {
      if (a.uid === session.uid) return -1;
      if (b.uid === session.uid) return 1;
      return a.uname.localeCompare(b.uname);
    });
    list.textContent = '';
    members.forEach(function (member) {
      var item = document.createElement('li');
      item.dataset.uid = String(member.uid);
      var who = document.createElement('div');
      who.className = 'who';
      var name = document.createElement('span');
      name.className = 'name';
      name.textContent = member.uname;
      var detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = 'uid ' + member.uid + (member.since ? ' · here since ' + timeOfDay(member.since) : '');
      who.append(name, detail);
      item.append(avatar(member), who);
      if (member.uid === session.uid) {
        var you = document.createElement('span');
        you.className = 'you';
        you.textContent = 'you';
        item.append(you);
      }
      list.append(item);
    });
    $('member-count').textContent = String(members.length);
    $('members-empty').hidden = members.length > 0;
  }

  function refreshMembers() {
    var current = session;
    return fetch('/api/members?room=' + encodeURIComponent(current.room) + '&time_channel=' + encodeURIComponent(current.timeChannel))
      .then(function (response) {
        if (!response.ok) throw new Error('/api/members answered ' + response.status);
        return response.json();
      })
      .then(function (body) {
        if (session !== current) return;
        var next = new Map();
        body.members.forEach(function (m) {
          var known = current.members.get(m.uid);
          var since = known && known.since ? known.since : m.since ? new Date(m.since) : null;
          next.set(m.uid, { uid: m.uid, uname: m.uname, since: since });
        });
        current.members = next;
        renderMembers();
      })
      .catch(function (error) { addNote('Could not load the member list: ' + error.message); });
  }

  // user_list is the server's full list: it removes whoever a missed diff left
  // behind, and asks for names of uids we have not heard of yet.
  function onUserList(list) {
    var online = new Set(list.uids);
    session.members.forEach(function (_, uid) { if (!online.has(uid)) session.members.delete(uid); });
    renderMembers();
    if (list.uids.some(function (uid) { return !session.members.has(uid); })) refreshMembers();
  }

  function onPresence(change) {
    var now = new Date();
    if (change.event === 'join') {
      session.members.set(change.uid, { uid: change.uid, uname: change.user.uname, since: now });
    } else {
      session.members.delete(change.uid);
    }
    renderMembers();
    addFeed(change.user, change.event, now);
  }

  // ---- activity feed -----------------------------------------------------

  function prependFeed(item) {
    var feed = $('feed');
    feed.prepend(item);
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
  }

  function addFeed(user, event, at) {
    var item = document.createElement('li');
    var text = document.createElement('span');
    var name = document.createElement('strong');
    name.textContent = user.uid === session.uid ? 'You' : user.uname;
    var verb = document.createElement('span');
    verb.className = 'verb-' + event;
    verb.textContent = event === 'join' ? ' joined' : ' left';
    text.append(name, verb);
    var time = document.createElement('time');
    time.dateTime = at.toISOString();
    time.textContent = timeOfDay(at);
    item.append(avatar(user, 'sm'), text, time);
    prependFeed(item);
  }

  function addNote(message) {
    var item = document.createElement('li');
    var text = document.createElement('span');
    text.className = 'note';
    text.textContent = message;
    var time = document.createElement('time');
    time.textContent = timeOfDay(new Date());
    item.append(text, time);
    prependFeed(item);
  }

  // ---- online time -------------------------------------------------------

  // The server counts; the page shows the server's total and counts on locally
  // while connected, so the clock ticks without a request per second.
  function clockSeconds(clock) {
    return clock.base + (clock.since === null ? 0 : (performance.now() - clock.since) / 1000);
  }

  function renderClock() {
    if (!session) return;
    $('clock').textContent = clockText(clockSeconds(session.clock));
    $('engaged-clock').textContent = clockText(clockSeconds(session.engagedClock));
  }

  function syncClock() {
    var current = session;
    var url = '/api/time?uid=' + current.uid + '&time_channel=' + encodeURIComponent(current.timeChannel);
    fetch(url)
      .then(function (response) {
        if (!response.ok) throw new Error('/api/time answered ' + response.status);
        return response.json();
      })
      .then(function (time) {
        if (session !== current || current.state !== 'online') return;
        current.clock = { base: time.totalSeconds, since: performance.now() };
        current.engagedClock = { base: time.engagedSeconds, since: time.engagedRunning ? performance.now() : null };
        renderClock();
      })
      .catch(function (error) { addNote('Could not load your online time: ' + error.message); });
  }

  function onState(state) {
    var wasOffline = session.state === 'offline';
    session.state = state;
    showState(state);
    if (state === 'online') {
      if (session.clock.since === null) session.clock.since = performance.now();
      syncClock();
      // The page's first engagement report goes out with its first messages; read the time again once it is counted.
      var current = session;
      setTimeout(function () { if (session === current && current.state === 'online') syncClock(); }, 1000);
      if (wasOffline) {
        addNote('Reconnected.');
        refreshMembers();
      }
    } else if (state === 'offline') {
      session.clock = { base: clockSeconds(session.clock), since: null };
      session.engagedClock = { base: clockSeconds(session.engagedClock), since: null };
      addNote('Connection lost; reconnecting…');
    }
    renderClock();
  }

  // Faye keeps retrying a refused handshake every few seconds; say it once.
  function onRefused(refusal) {
    if (session.lastRefusal === refusal.message) return;
    session.lastRefusal = refusal.message;
    addNote('The server refused this page (' + refusal.code + '): ' + refusal.message);
  }

  // ---- joining and leaving -----------------------------------------------

  // Leaving on purpose is a disconnect, and the server waits out its leave
  // grace before the others see it (a reload within it is no leave at all);
  // a closed tab announces itself and is checked after the before_leave delay.
  function showLeftNote() {
    fetch('/api/settings')
      .then(function (response) { return response.json(); })
      .then(function (settings) {
        var note = $('left-note');
        note.textContent = 'You left. The others see you go in about ' + settings.leaveGraceSeconds + ' s (the leave grace: ' +
          'coming back within it is no leave at all); a closed tab is noticed after ' + settings.beforeLeaveDelaySeconds + ' s.';
        note.hidden = false;
      })
      .catch(function () { /* the note is a courtesy */ });
  }

  function showJoinForm(prefs, error) {
    $('left-note').hidden = true;
    $('name').value = prefs.name;
    $('room').value = prefs.room;
    $('lesson').value = prefs.lesson;
    $('join-error').hidden = !error;
    $('join-error').textContent = error || '';
    $('room-view').hidden = true;
    $('join').hidden = false;
    showState('idle');
  }

  function join(prefs) {
    if (!window.FayeOnline) {
      showJoinForm(prefs, 'The presence client did not load (/faye/client.js or /faye-online.js). Is the demo server running?');
      return;
    }
    var name = prefs.name.trim();
    var uid = uidFor(name);
    var room = '/demo/rooms/' + prefs.room;
    var timeChannel = '/demo/lessons/' + prefs.lesson;
    var online;
    try {
      online = window.FayeOnline.connect({ url: '/faye', room: room, timeChannel: timeChannel, user: { uid: uid, uname: name } });
    } catch (error) {
      showJoinForm(prefs, error.message);
      return;
    }
    session = {
      online: online, uid: uid, name: name, room: room, timeChannel: timeChannel,
      state: 'connecting', members: new Map(), clock: { base: 0, since: null }, engagedClock: { base: 0, since: null },
    };
    savePrefs({ name: name, room: prefs.room, lesson: prefs.lesson, joined: true });

    $('join').hidden = true;
    $('room-view').hidden = false;
    $('feed').textContent = '';
    $('me-avatar').replaceWith(Object.assign(avatar({ uid: uid, uname: name }, 'lg'), { id: 'me-avatar' }));
    $('me-name').textContent = name;
    $('me-uid').textContent = String(uid);
    $('room-name').textContent = prefs.room;
    $('lesson-name').textContent = prefs.lesson;
    document.title = prefs.room + ' · faye-online demo';
    showState('connecting');
    renderMembers();
    renderClock();

    var current = session;
    var whileCurrent = function (handler) {
      return function (value) { if (session === current) handler(value); };
    };
    online.on('state', whileCurrent(onState));
    online.on('refused', whileCurrent(onRefused));
    var subscriptions = [online.onPresence(whileCurrent(onPresence)), online.onUserList(whileCurrent(onUserList))];
    // Diffs that arrive after the subscriptions are acknowledged apply on top of this list.
    Promise.all(subscriptions.map(function (s) { return s.ready; }))
      .then(refreshMembers)
      .catch(function (error) { addNote('Subscribing failed: ' + (error && error.message ? error.message : error)); });
  }

  function leave() {
    if (!session) return Promise.resolve();
    var current = session;
    session = null;
    return current.online.leave();
  }

  // ---- wiring --------------------------------------------------------------

  $('join-form').addEventListener('submit', function (event) {
    event.preventDefault();
    join({ name: $('name').value, room: $('room').value.trim(), lesson: $('lesson').value.trim() });
  });

  $('leave').addEventListener('click', function () {
    var prefs = loadPrefs();
    prefs.joined = false;
    savePrefs(prefs);
    leave().then(function () {
      showJoinForm(prefs);
      showLeftNote();
    });
  });

  setInterval(renderClock, 250);

  // The client reports visibility changes to the server; ask for the engaged
  // time once the report has been handled, so the clock shows the server's count.
  document.addEventListener('visibilitychange', function () {
    if (!session || session.state !== 'online') return;
    if (document.visibilityState === 'hidden') {
      session.engagedClock = { base: clockSeconds(session.engagedClock), since: null };
    }
    setTimeout(function () { if (session && session.state === 'online') syncClock(); }, 500);
  });

  var prefs = loadPrefs();
  if (prefs.joined) join(prefs);
  else showJoinForm(prefs);
})();
