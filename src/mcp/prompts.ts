/**
 * Prompts for the common jobs of the day. They only say what to do and with which tools and
 * resources: the data comes from the tool calls, under the caller's own admission.
 */

interface PromptDef {
  name: string;
  title: string;
  description: string;
  arguments: { name: string; description: string; required: boolean }[];
  text: (args: Record<string, string>) => string;
}

export const PROMPTS: readonly PromptDef[] = [
  {
    name: "triage_breach_list",
    title: "Triage the SLA breach list",
    description: "Find the jobs past their SLA deadline, group them and propose the next action for each.",
    arguments: [{ name: "focus", description: "Optional: a trade, area or contractor to focus on", required: false }],
    text: (a) =>
      "Triage today's SLA breaches. Call getSlaStatus for the figures and the breached jobs (filter it by agent_id, " +
      "contractor_id or priority_id if the focus names one; listContractors finds a contractor's id). For each breached job read it (listOrGetJobs_get or the job://{uuid} " +
      "resource) and give: job ref, how long past the deadline, who holds it (contractor), its next_statuses, and one concrete next " +
      "step (chase, reassign, escalate). Order by urgency. Do not change anything without asking." +
      (a.focus ? `\n\nFocus on: ${a.focus}` : ""),
  },
  {
    name: "draft_contractor_chase",
    title: "Draft a chase email to a contractor",
    description: "A short, polite chase for a job that is late or waiting on the contractor.",
    arguments: [{ name: "job_uuid", description: "The job's uuid", required: true }],
    text: (a) =>
      `Read the job resource job://${a.job_uuid ?? "{uuid}"} (details, case notes, timeline). Draft an email to the assigned ` +
      "contractor chasing the job: name the job ref and address, what is outstanding, the SLA deadline and how late it is, and ask " +
      "for a date. Keep it under 150 words, courteous and firm. Do not include private contact details that the job does not show " +
      "you. Offer to add the email as a case note (listCaseNotesOrDownloadAttachment is read-only; createUpdateDeleteCaseNote_create " +
      "adds one) only if the user agrees.",
  },
  {
    name: "summarise_job_for_landlord",
    title: "Summarise a job for the landlord",
    description: "A plain-language summary of a job's status and history for the property's landlord.",
    arguments: [{ name: "job_uuid", description: "The job's uuid", required: true }],
    text: (a) =>
      `Read the job resource job://${a.job_uuid ?? "{uuid}"}. Write a summary for the landlord: what the problem is, what has been ` +
      "done (from the timeline and case notes), the current status and what happens next, any costs approved or awaiting approval. " +
      "Plain language, no internal notes marked private, no tenant contact details.",
  },
];

export function promptMessages(name: string, args: Record<string, string>) {
  const p = PROMPTS.find((x) => x.name === name);
  if (!p) return undefined;
  return { description: p.description, messages: [{ role: "user", content: { type: "text", text: p.text(args) } }] };
}
