/** Example values shared by the operations' OpenAPI examples (each route declares its own `docs`). */

export const JOB_UUID = "550e8400-e29b-41d4-a716-446655440001";
export const WEBHOOK = {
  uuid: "550e8400-e29b-41d4-a716-446655440801",
  url: "https://integrator.example.com/hooks/propops",
  description: "Ops board",
  event_types: ["job.created", "job.status_changed", "sla.breached"],
  enabled: true,
  created_at: "2024-06-01T09:00:00Z",
  updated_at: "2024-06-01T09:00:00Z",
};
export const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export const REMEDIAL_UUID = "550e8400-e29b-41d4-a716-446655441055";
export const AMEND_UUID = "aa11bb22-cc33-4444-dd55-ee6677889900";
export const VIDEO_UUID = "a1b2c3d4-e5f6-7890-abcd-ef0123456789";
export const NOTE_UUID = "550e8400-e29b-41d4-a716-446655440050";
export const OK = "Operation completed successfully";

export const ex = (summary: string, value: unknown) => ({ summary, value });

/** The example of a `done(c, what, fields)` answer: its message is `what` + " successfully" (src/http/envelope.ts). */
export const exDone = (what: string, fields: Record<string, unknown>) =>
  ex(what, { success: true, ...fields, message: `${what} successfully` });

export const JOB_LIST_ITEM = {
  ID: 1001,
  uuid: JOB_UUID,
  job_ref: "JOB-001",
  job_title: "Boiler Service - Unit 001",
  job_description: "Annual boiler service required for property unit 001.",
  status_id: 1,
  status_name: "Open",
  priority_id: 2,
  priority_name: "Medium",
  job_type_id: 3,
  job_type_name: "Gas & Heating",
  agent_id: 10,
  agent_name: "Agent_001",
  contractor_id: 20,
  contractor_name: "Contractor_001",
  full_address: "1 Example Street, Sample Town, EX1 1AA",
  job_total_budget: 250.0,
  contractor_budget: 180.0,
  vat_percentage: 20.0,
  total_amount: 216.0,
  date_works_start_date: "2024-06-01",
  date_works_end_date: "2024-06-02",
  photos_count: 3,
  documents_count: 1,
  is_pinned: false,
  is_recall: 0,
  sla_deadline: "2024-06-03T09:30:00Z",
  sla_state: "within",
  created_at: "2024-01-15T09:30:00Z",
  updated_at: "2024-06-01T14:00:00Z",
};

export const JOB_CREATE = {
  action: "create",
  job_title: "Boiler Service - Unit 001",
  job_description: "Annual boiler service",
  priority_id: 2,
  status_id: 1,
  job_type_id: 3,
  address_id: 5,
  contractor_id: 20,
  vat_percentage: 20.0,
  job_total_budget: 250.0,
};

export const API_TOKEN = {
  uuid: "550e8400-e29b-41d4-a716-446655440901",
  name: "Ops board (read only)",
  permissions: ["api.jobs.manage.list"],
  narrowed: true,
  created_at: "2024-06-01T09:00:00Z",
  last_used_at: "2024-06-01T12:35:00Z",
  expires_at: "2024-07-01T09:00:00Z",
  revoked_at: null,
  is_current: true,
};

export const reference = (item: Record<string, unknown>, count = 1) => ({ success: true, data: [item], count, message: OK });
export const directory = (item: Record<string, unknown>, count = 1) => ({
  success: true,
  data: [item],
  count,
  count_capped: false,
  message: OK,
});
