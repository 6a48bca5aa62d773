// Auditor page (read only): every case with its sessions and sealed artefacts, each artefact
// with Verify (GET /api/artefacts/{id}/verify) and Download (the zip bundle).

import { $, fetchJson, formatInstant, h, setStatus, viewerZone } from './common.js';
import { setupAuth } from './auth.js';
import { LANGUAGE_NAMES, artefactBlock, loadServices, serviceLabel, sessionsTable } from './cases.js';

const els = {
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

function main() {
  els.viewerZone.textContent = viewerZone();
  els.casesRefresh.addEventListener('click', loadAll);
  setupAuth({
    roles: ['auditor', 'officer'],
    wrongRoleText: (role) => `This page is for auditors (you are signed in as ${role}).`,
    onSignedIn: loadAll,
    onSignedOut: () => els.cases.replaceChildren(),
  });
}

main();
