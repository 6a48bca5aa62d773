// Auditor page (read only): artefacts found by service, officer, outcome and a date range in a
// chosen zone, each with its timeline in UTC, Beijing and the applicant's time, its certificates
// and log position; the access log; and every case with its sessions and sealed artefacts, each
// artefact with Verify (GET /api/artefacts/{id}/verify) and Download (the zip bundle).

import { $, fetchJson, formatInstant, h, setStatus, viewerZone } from './common.js';
import { setupAuth } from './auth.js';
import { LANGUAGE_NAMES, artefactBlock, loadServices, serviceLabel, sessionsTable } from './cases.js';

const els = {
  filterForm: $('#filter-form'),
  filterService: $('#f-service'),
  findStatus: $('#find-status'),
  found: $('#found'),
  timelineCard: $('#timeline-card'),
  timelineMeta: $('#timeline-meta'),
  timeline: $('#timeline'),
  accessRefresh: $('#access-refresh'),
  accessStatus: $('#access-status'),
  access: $('#access'),
  casesRefresh: $('#cases-refresh'),
  casesStatus: $('#cases-status'),
  cases: $('#cases'),
  viewerZone: $('#viewer-zone'),
};

let services = { list: [], byCode: {} };
let loading = false;

/** Run `fn` over `items` with at most `limit` in flight. */
async function mapLimited(items, limit, fn) {
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function caseSection(c) {
  const body = h('div', { class: 'case-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const section = h(
    'section',
    { class: 'card case-block', dataset: { testid: 'audit-case', caseId: c.id }, 'aria-labelledby': `case-${c.id}` },
    h('h2', { id: `case-${c.id}` }, `${c.applicant_name} — ${serviceLabel(services, c.service)}`),
    h(
      'p',
      { class: 'small muted' },
      `Case ${c.id} · zone ${c.applicant_tz} · ${LANGUAGE_NAMES[c.applicant_lang] || c.applicant_lang} · created ${formatInstant(c.created_at)}`,
    ),
    body,
  );
  return { section, body };
}

async function fillCase(c, body) {
  try {
    const detail = await fetchJson(`/api/cases/${encodeURIComponent(c.id)}`);
    const artefacts = detail.artefacts || [];
    body.replaceChildren(
      h('h3', {}, 'Sessions'),
      sessionsTable(detail.sessions),
      h('h3', {}, `Artefacts (${artefacts.length})`),
      artefacts.length
        ? h('div', { dataset: { testid: 'artefact-list' } }, artefacts.map((a) => artefactBlock(a, { verify: true })))
        : h('p', { class: 'muted' }, 'No sealed artefacts.'),
    );
  } catch (err) {
    const p = h('p', { class: 'status' });
    setStatus(p, `Could not load this case: ${err.message}`, 'error');
    body.replaceChildren(p);
  }
}

async function loadAll() {
  if (loading) return;
  loading = true;
  els.casesRefresh.disabled = true;
  setStatus(els.casesStatus, 'Loading cases…');
  els.cases.dataset.state = 'loading';
  try {
    try {
      services = await loadServices();
    } catch {
      // Service codes are shown instead of names.
    }
    const cases = (await fetchJson('/api/cases')) || [];
    const blocks = cases.map((c) => ({ c, ...caseSection(c) }));
    els.cases.replaceChildren(...blocks.map((b) => b.section));
    if (cases.length === 0) els.cases.append(h('p', { class: 'muted' }, 'No cases yet.'));
    await mapLimited(blocks, 4, (b) => fillCase(b.c, b.body));
    setStatus(els.casesStatus, `${cases.length} case${cases.length === 1 ? '' : 's'} loaded.`);
    els.cases.dataset.state = 'loaded';
  } catch (err) {
    setStatus(els.casesStatus, `Could not load the cases: ${err.message}`, 'error');
    els.cases.dataset.state = 'error';
  } finally {
    loading = false;
    els.casesRefresh.disabled = false;
  }
}

/** A table with a caption, column headers and rows of cells (text or nodes). */
function table(caption, headers, rows, testid) {
  return h(
    'table',
    { class: 'data', dataset: { testid } },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c))))),
  );
}

/** "2026-11-30 16:00 (+08:00)" from a shown time. */
function shown(t) {
  return t ? `${t.local} (${t.utc_offset})` : '—';
}

async function search(event) {
  event?.preventDefault();
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(els.filterForm)) {
    if (String(value).trim()) params.set(key, String(value).trim());
  }
  setStatus(els.findStatus, 'Searching…');
  try {
    const rows = (await fetchJson(`/api/artefacts?${params}`)) || [];
    els.found.replaceChildren(
      rows.length
        ? table(
            'Artefacts found',
            ['Sealed (zone of the search)', 'Service', 'Applicant', 'Officer', 'Outcome', 'Receipt', ''],
            rows.map((a) => [
              shown(a.sealed_local),
              serviceLabel(services, a.service),
              a.applicant_name,
              a.officer ? a.officer.name : '—',
              a.outcome,
              h('code', { title: a.manifest_sha256 }, a.manifest_sha256.slice(0, 16) + '…'),
              h(
                'button',
                {
                  type: 'button',
                  class: 'btn secondary small',
                  dataset: { testid: 'open-timeline', artefactId: a.id },
                  onclick: () => openTimeline(a.id),
                },
                'Timeline',
              ),
            ]),
            'found-table',
          )
        : h('p', { class: 'muted' }, 'No artefact matches.'),
    );
    setStatus(els.findStatus, `${rows.length} artefact${rows.length === 1 ? '' : 's'} found.`);
  } catch (err) {
    setStatus(els.findStatus, `Could not search: ${err.message}`, 'error');
  }
}

async function openTimeline(id) {
  els.timelineCard.hidden = false;
  els.timeline.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const t = await fetchJson(`/api/artefacts/${encodeURIComponent(id)}/timeline`);
    const log = t.log ? `leaf ${t.log.leaf_index} of ${t.log.tree_size} in ${t.log.origin}` : 'no log proof';
    els.timelineMeta.textContent = `Artefact ${t.artefact_id} · receipt ${t.manifest_sha256} · transparency log: ${log}`;
    els.timeline.replaceChildren(
      table(
        'Events',
        ['#', 'Event', 'UTC', 'Beijing', `Applicant (${t.applicant_zone})`, 'Details'],
        t.events.map((e) => [
          String(e.seq),
          e.kind.replaceAll('_', ' '),
          e.utc.replace('T', ' ').replace(/\.\d+/, ''),
          shown(e.beijing),
          shown(e.applicant),
          h('code', { class: 'small' }, JSON.stringify(e.detail)),
        ]),
        'timeline-table',
      ),
      h('h3', {}, 'Signing certificates'),
      table(
        'Certificates in the signature',
        ['Subject', 'Issuer', 'Serial', 'Valid from', 'Valid to'],
        t.certificates.map((c) => [c.subject, c.issuer, c.serial, c.not_before, c.not_after]),
        'certificates-table',
      ),
    );
    els.timelineCard.scrollIntoView({ block: 'start' });
  } catch (err) {
    const p = h('p', { class: 'status' });
    setStatus(p, `Could not load the timeline: ${err.message}`, 'error');
    els.timeline.replaceChildren(p);
  }
}

async function loadAccessLog() {
  setStatus(els.accessStatus, 'Loading…');
  try {
    const rows = (await fetchJson('/api/access-log')) || [];
    els.access.replaceChildren(
      table(
        'Access log',
        ['When (your zone)', 'Who', 'What', 'Artefact or search'],
        rows.map((a) => [formatInstant(a.at), a.user, a.action.replaceAll('_', ' '), a.target]),
        'access-table',
      ),
    );
    setStatus(els.accessStatus, `${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}.`);
  } catch (err) {
    setStatus(els.accessStatus, `Could not load the access log: ${err.message}`, 'error');
  }
}

async function fillServices() {
  try {
    services = await loadServices();
  } catch {
    return;
  }
  els.filterService.replaceChildren(
    h('option', { value: '' }, 'Any'),
    ...services.list.map((s) => h('option', { value: s.code }, serviceLabel(services, s.code))),
  );
}

function main() {
  els.viewerZone.textContent = viewerZone();
  els.filterForm.addEventListener('submit', search);
  els.accessRefresh.addEventListener('click', loadAccessLog);
  els.casesRefresh.addEventListener('click', loadAll);
  setupAuth({
    roles: ['auditor', 'officer'],
    wrongRoleText: (role) => `This page is for auditors (you are signed in as ${role}).`,
    onSignedIn: async (me) => {
      els.accessRefresh.closest('section').hidden = me?.role !== 'auditor';
      await fillServices();
      await loadAll();
    },
    onSignedOut: () => els.cases.replaceChildren(),
  });
}

main();
