// Case, session and artefact rendering shared by the officer console and the audit page.

import { fetchJson, formatInstant, h, setStatus, sizeText } from './common.js';

export const LANGUAGE_NAMES = {
  'zh-Hans': 'Chinese (Simplified)',
  en: 'English',
  pt: 'Portuguese',
  it: 'Italian',
  es: 'Spanish',
};

/** GET /api/services as `{code: {en, zh-Hans, …}}`, plus the ordered list. */
export async function loadServices() {
  const list = await fetchJson('/api/services');
  const byCode = {};
  for (const s of list || []) byCode[s.code] = s.name || {};
  return { list: list || [], byCode };
}

export function serviceLabel(services, code) {
  const names = services && services.byCode && services.byCode[code];
  return (names && (names.en || Object.values(names)[0])) || code || '';
}

/** Link to an artefact's zip bundle. */
export function bundleLink(artefactId) {
  return h(
    'a',
    {
      href: `/api/artefacts/${encodeURIComponent(artefactId)}/bundle`,
      download: `globallink-artefact-${artefactId}.zip`,
      dataset: { testid: 'artefact-download', artefactId },
    },
    'Download bundle',
  );
}

/**
 * GET /api/artefacts/{id}/verify and render the checks into `out` (✔/✘ per check, the error).
 * `out.dataset.ok` becomes "true" or "false" when done.
 */
export async function verifyArtefact(artefactId, out, button) {
  if (button) button.disabled = true;
  out.hidden = false;
  out.replaceChildren(h('p', { role: 'status' }, 'Verifying…'));
  out.dataset.state = 'pending';
  delete out.dataset.ok;
  try {
    const report = await fetchJson(`/api/artefacts/${encodeURIComponent(artefactId)}/verify`);
    const ok = !!(report && report.ok);
    const headline = h(
      'p',
      { class: 'status ' + (ok ? 'is-ok' : 'is-error'), role: 'status', dataset: { testid: 'verify-status', ok: String(ok) } },
      ok ? '✔ Verified: every check passed.' : '✘ Verification failed' + (report && report.error ? ': ' + report.error : '.'),
    );
    const checks = h('ul', { class: 'checks', dataset: { testid: 'verify-checks' } });
    for (const c of (report && report.checks) || []) {
      checks.append(
        h(
          'li',
          { dataset: { testid: 'verify-check', ok: String(!!c.ok), name: c.name || '' } },
          h('span', { class: 'mark ' + (c.ok ? 'ok' : 'bad'), 'aria-hidden': 'true' }, c.ok ? '✔' : '✘'),
          h('span', { class: 'visually-hidden' }, c.ok ? 'passed: ' : 'failed: '),
          h('strong', {}, c.name || ''),
          c.detail ? h('span', { class: 'muted' }, ' — ' + c.detail) : null,
        ),
      );
    }
    out.replaceChildren(headline, checks);
    out.dataset.ok = String(ok);
    out.dataset.state = 'done';
  } catch (err) {
    const p = h('p', { class: 'status' });
    setStatus(p, `Could not verify: ${err.message}`, 'error');
    p.dataset.testid = 'verify-status';
    p.dataset.ok = 'false';
    out.replaceChildren(p);
    out.dataset.ok = 'false';
    out.dataset.state = 'error';
  } finally {
    if (button) button.disabled = false;
  }
}

/** One artefact: id, hash, size, time, download link, and optionally a Verify button. */
export function artefactBlock(a, { verify = false } = {}) {
  const result = h('div', { class: 'verify-result', dataset: { testid: 'verify-result', artefactId: a.id }, hidden: true });
  const actions = h('div', { class: 'form-actions' }, bundleLink(a.id));
  if (verify) {
    const btn = h(
      'button',
      { type: 'button', class: 'btn small', dataset: { testid: 'verify-artefact', artefactId: a.id } },
      'Verify',
    );
    btn.addEventListener('click', () => verifyArtefact(a.id, result, btn));
    actions.prepend(btn);
  }
  return h(
    'div',
    { class: 'artefact', dataset: { testid: 'artefact', artefactId: a.id, sessionId: a.session_id || '' } },
    h('p', {}, h('strong', {}, 'Artefact '), h('span', { class: 'mono break' }, a.id)),
    h(
      'p',
      { class: 'small' },
      'Manifest SHA-256: ',
      h('span', { class: 'mono break', dataset: { testid: 'artefact-manifest' } }, a.manifest_sha256 || ''),
    ),
    h('p', { class: 'small muted' }, `${sizeText(a.size)} · sealed ${formatInstant(a.created_at)}`),
    actions,
    result,
  );
}

/** Sessions table for a case. */
export function sessionsTable(sessions) {
  if (!sessions || sessions.length === 0) return h('p', { class: 'muted' }, 'No sessions yet.');
  const body = h('tbody');
  for (const s of sessions) {
    body.append(
      h(
        'tr',
        { dataset: { testid: 'session-row', sessionId: s.id, status: s.status } },
        h('td', { class: 'mono small break' }, s.id),
        h('td', {}, h('span', { class: 'badge' + (s.status === 'closed' ? ' ok' : s.status === 'interrupted' ? ' bad' : '') }, s.status)),
        h('td', {}, formatInstant(s.started_at)),
        h('td', {}, s.ended_at ? formatInstant(s.ended_at) : '—'),
        h('td', {}, String(s.events ?? '')),
      ),
    );
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Session'),
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Started'),
          h('th', { scope: 'col' }, 'Ended'),
          h('th', { scope: 'col' }, 'Events'),
        ),
      ),
      body,
    ),
  );
}

/** Render GET /api/cases/{id} into `container`. */
export function renderCaseDetail(container, detail, services, { verify = false } = {}) {
  const c = detail.case;
  const artefacts = detail.artefacts || [];
  container.replaceChildren(
    h('h3', {}, `${c.applicant_name} — ${serviceLabel(services, c.service)}`),
    h(
      'p',
      { class: 'small' },
      `Case ${c.id} · zone ${c.applicant_tz} · language ${LANGUAGE_NAMES[c.applicant_lang] || c.applicant_lang} · created ${formatInstant(c.created_at)}`,
    ),
    h('h4', {}, 'Sessions'),
    sessionsTable(detail.sessions),
    h('h4', {}, 'Artefacts'),
    artefacts.length
      ? h('div', { dataset: { testid: 'artefact-list' } }, artefacts.map((a) => artefactBlock(a, { verify })))
      : h('p', { class: 'muted' }, 'No artefacts yet.'),
  );
  container.dataset.caseId = c.id;
  container.hidden = false;
}
