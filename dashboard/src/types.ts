/** The shapes of the API's answers this dashboard reads (names as the reference gives them). */
export interface List<T> {
  success: true;
  data: T[];
  count: number;
  message: string;
}
export interface One<T> {
  success: true;
  data: T;
  message: string;
}
export interface Done {
  success: true;
  message: string;
}

export type SlaState = "within" | "overdue" | "breached" | "not_applicable";

export interface Job {
  ID: number;
  uuid: string;
  job_ref: string;
  job_title: string;
  job_description: string;
  status_id: number;
  status_name: string;
  priority_id: number;
  priority_name: string;
  job_type_id: number;
  job_type_name: string;
  agent_id: number | null;
  agent_name: string | null;
  contractor_id: number | null;
  contractor_name: string | null;
  full_address: string;
  job_total_budget: number | null;
  contractor_budget: number | null;
  vat_percentage: number;
  total_amount: number | null;
  date_works_start_date: string | null;
  date_works_end_date: string | null;
  photos_count: number;
  documents_count: number;
  is_pinned: boolean;
  is_recall: number;
  sla_deadline: string | null;
  sla_state: SlaState;
  created_at: string;
  updated_at: string;
}

export interface JobDetail extends Job {
  payment_status_name?: string | null;
  time_range_name?: string | null;
  created_by_name?: string | null;
  works_order_ref?: string | null;
  invoice_no?: string | null;
  /** Present only for roles that may see the private contact. */
  access_details?: string | null;
  private_contact_name?: string | null;
  private_contact_email?: string | null;
  tenants?: { id: number; name: string }[];
  completed_at?: string | null;
}

export interface Status {
  ID: number;
  name: string;
  requires_approval: boolean;
  is_completed: boolean;
  is_archived: boolean;
}
export interface Named {
  ID: number;
  name: string;
}

export interface Sla {
  jobs_within_sla: number;
  jobs_overdue: number;
  jobs_breached: number;
  breach_details: { job_uuid: string; job_ref: string; sla_deadline: string; hours_overdue: number }[];
}

export interface Note {
  ID: number;
  uuid: string;
  message: string;
  created_by_name: string;
  send_email: boolean;
  created_at: string;
  parent_uuid: string | null;
  is_html: boolean;
  source: "api" | "email";
  email_status: "none" | "sent" | "failed" | "partial";
  attachments: { uuid: string; filename: string; size: number; download_url: string }[];
}

export type PhotoType = "before" | "during" | "after" | "other";
export const PHOTO_TYPES: PhotoType[] = ["before", "during", "after", "other"];

export interface Photo {
  ID: number;
  uuid: string;
  photo_type: PhotoType;
  kind: "image" | "video";
  filename: string;
  size: number;
  compressed_size: number | null;
  processing_status: "pending" | "processing" | "completed" | "failed";
  processing_error: string | null;
  url: string;
  compressed_url: string | null;
  created_at: string;
}

export interface VariantInfo {
  url: string;
  width: number;
  height: number;
  bitrate: number;
  size: number;
}
export interface VideoVariants {
  uuid: string;
  original: { url: string; size: number };
  variants: { "1080p"?: VariantInfo; "720p"?: VariantInfo } | [];
  thumbnail: string | null;
  processing_status: Photo["processing_status"];
}

export interface Doc {
  ID: number;
  uuid: string;
  file_type_name: string;
  filename: string;
  size: number;
  created_at: string;
  download_url: string;
}

export interface Amendment {
  uuid: string;
  field_name: string;
  current_value: string | null;
  requested_value: string;
  reason: string;
  status: "pending" | "approved" | "rejected" | "superseded";
  requested_by: string;
  requested_at: string;
  decided_by: string | null;
  decision_notes: string | null;
}

export interface AmendableField {
  key: string;
  label: string;
  type: "text" | "textarea" | "number" | "money" | "date" | "choice";
  current_value: string | null;
  required: boolean;
  description: string;
  options?: { value: string | number; label: string }[];
}
export interface Amendable {
  job_uuid: string;
  user_type: "staff" | "contractor";
  fields: AmendableField[];
}

export interface Remedial {
  ID: number;
  uuid: string;
  job_ref: string;
  job_title: string;
  status_name: string;
  created_on: string;
}

export interface AuditEvent {
  uuid: string;
  action: string;
  actor_name: string;
  changes: Record<string, unknown>;
  created_at: string;
}
