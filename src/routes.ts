import { rotateKeys } from "./admin/rotate-keys";
import type { Operation } from "./http/operation";
import { getCaseNotes } from "./jobs/case-notes/read";
import { postCaseNotes } from "./jobs/case-notes/write";
import { getManage } from "./jobs/manage/read";
import { postManage } from "./jobs/manage/write";
import { listAddresses } from "./jobs/reference/addresses";
import { listFileTypes } from "./jobs/reference/file-types";
import { listPaymentStatuses } from "./jobs/reference/payment-statuses";
import { listPriorities } from "./jobs/reference/priorities";
import { listStatuses } from "./jobs/reference/statuses";
import { listTimeRanges } from "./jobs/reference/time-ranges";
import { listTypes } from "./jobs/reference/types";
import { getSlaStatus } from "./jobs/sla-status/read";
import { getCsrfToken } from "./security/csrf-token";

/** Every operation of the API, in the order of the reference. Tests run the auth matrix over this list. */
export const operations: readonly Operation[] = [
  getManage,
  postManage,
  getCaseNotes,
  postCaseNotes,
  getSlaStatus,
  listStatuses,
  listTypes,
  listPriorities,
  listPaymentStatuses,
  listTimeRanges,
  listAddresses,
  listFileTypes,
  getCsrfToken,
  rotateKeys,
];
