import { rotateKeys } from "./admin/rotate-keys";
import { getWebhookDeliveries, getWebhooks } from "./admin/webhooks/read";
import { postWebhookDeliveries, postWebhooks } from "./admin/webhooks/write";
import type { SchemaOfOperations } from "./http/operation";
import { getAgents } from "./jobs/agents/read";
import { getAmendRequests } from "./jobs/amend-request/read";
import { patchAmendRequest, postAmendRequest } from "./jobs/amend-request/write";
import { getAmendableFields } from "./jobs/amendable-fields/read";
import { postApprovalGate } from "./jobs/approval-gate/write";
import { getAudit } from "./jobs/audit/read";
import { getCaseNotes } from "./jobs/case-notes/read";
import { postCaseNotes } from "./jobs/case-notes/write";
import { getContractors } from "./jobs/contractors/read";
import { getDocuments } from "./jobs/documents/read";
import { deleteDocuments, postDocuments } from "./jobs/documents/write";
import { getManage } from "./jobs/manage/read";
import { postManage } from "./jobs/manage/write";
import { postMarkRecallCompleted } from "./jobs/mark-recall-completed/write";
import { getPhotoFile, getPhotos } from "./jobs/photos/read";
import { deletePhotos, postPhotos } from "./jobs/photos/write";
import { postRecall } from "./jobs/recall/write";
import {
  getAddresses,
  getFileTypes,
  getJobTypes,
  getPaymentStatuses,
  getPriorities,
  getStatuses,
  getTimeRanges,
} from "./jobs/reference/read";
import { getRemedials } from "./jobs/remedials/read";
import { postRemedials } from "./jobs/remedials/write";
import { getSlaStatus } from "./jobs/sla-status/read";
import { getStaff } from "./jobs/staff/read";
import { getTenants } from "./jobs/tenants/read";
import { postTogglePin } from "./jobs/toggle-pin/write";
import { getVideoVariantFile, getVideoVariants } from "./jobs/video-variants/read";
import { postWork } from "./jobs/work/write";
import { getLiveEvents, postLive } from "./live/routes";
import { getCsrfToken } from "./security/csrf-token";
import { getTokens } from "./security/tokens/read";
import { postTokens } from "./security/tokens/write";

/** Every operation of the API, in the order of the reference. Tests run the auth matrix over this list. */
export const operations = [
  getManage,
  postManage,
  getCaseNotes,
  postCaseNotes,
  getPhotos,
  postPhotos,
  deletePhotos,
  getPhotoFile,
  getDocuments,
  postDocuments,
  deleteDocuments,
  postRecall,
  getAmendRequests,
  postAmendRequest,
  patchAmendRequest,
  getSlaStatus,
  postApprovalGate,
  postWork,
  getStatuses,
  getJobTypes,
  getPriorities,
  getPaymentStatuses,
  getTimeRanges,
  getAddresses,
  getFileTypes,
  // Directories (not in the reference): who a job can be assigned to.
  getContractors,
  getAgents,
  getStaff,
  getTenants,
  postTogglePin,
  getRemedials,
  postRemedials,
  postMarkRecallCompleted,
  getAmendableFields,
  getAudit,
  getVideoVariants,
  getVideoVariantFile,
  getCsrfToken,
  getTokens,
  postTokens,
  rotateKeys,
  getWebhooks,
  postWebhooks,
  getWebhookDeliveries,
  postWebhookDeliveries,
  // Live events (issue 21): the ticket for the WebSocket (GET /api/live, src/live/routes.ts) and polling.
  postLive,
  getLiveEvents,
] as const;

/** Every route with what it takes and answers, for `hc<AppType>` (src/app.ts). */
export type AppSchema = SchemaOfOperations<typeof operations>;
