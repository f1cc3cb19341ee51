import type { Activity, Lead, LeadDetail, Note, Reminder } from '../contract/leads.js';
import type { ActivityRow, LeadCounts, LeadRow, NoteRow, ReminderRow } from './leads.repo.js';

/** The public shape of a lead (API.md "Leads"). */
export function leadView(l: LeadRow): Lead {
  return {
    id: l.id,
    name: l.name,
    phone: l.phone,
    email: l.email,
    status: l.status,
    tags: l.tags,
    source: l.source,
    import_id: l.import_id,
    owner_user_id: l.owner_user_id,
    created_at: l.created_at.toISOString(),
    updated_at: l.updated_at.toISOString(),
  };
}

export function leadDetailView(l: LeadRow & { counts: LeadCounts }): LeadDetail {
  return { ...leadView(l), counts: l.counts };
}

export function noteView(n: NoteRow): Note {
  return { id: n.id, lead_id: n.lead_id, text: n.text, created_by: n.created_by, created_at: n.created_at.toISOString() };
}

export function activityView(a: ActivityRow): Activity {
  return { ...noteView(a), type: a.type };
}

export function reminderView(r: ReminderRow): Reminder {
  return { ...noteView(r), due_at: r.due_at.toISOString() };
}
