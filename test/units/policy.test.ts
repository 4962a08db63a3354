import { describe, expect, it } from "vitest";
import { PERMISSIONS, ROLE_PERMISSIONS, type Role } from "../../src/auth/permissions";
import { type Action, can, canSeePrivate, type PrivateField } from "../../src/domain/policy";

// The whole access table, one row per role: every named action and every permission of the
// reference. A change to a rule shows up here as a changed row, reviewed on purpose.
const ACTIONS: Action[] = [
  "job.write",
  "job.see",
  "amendment.decide",
  "approval.decide",
  "budget.accept_overrun",
  "audit.read_deleted",
  "note.moderate",
];

const EXPECTED: Record<Role, Record<Action, boolean>> = {
  admin: {
    "job.write": true,
    "job.see": true,
    "amendment.decide": true,
    "approval.decide": true,
    "budget.accept_overrun": true,
    "audit.read_deleted": true,
    "note.moderate": true,
  },
  manager: {
    "job.write": true,
    "job.see": true,
    "amendment.decide": true,
    "approval.decide": true,
    "budget.accept_overrun": true,
    "audit.read_deleted": true,
    "note.moderate": true,
  },
  staff: {
    "job.write": true,
    "job.see": true,
    "amendment.decide": false,
    "approval.decide": false,
    "budget.accept_overrun": false,
    "audit.read_deleted": false,
    "note.moderate": true,
  },
  agent: {
    "job.write": true,
    "job.see": true,
    "amendment.decide": false,
    "approval.decide": false,
    "budget.accept_overrun": false,
    "audit.read_deleted": false,
    "note.moderate": false,
  },
  // On a job of another contractor (the job-scoped rows below cover their own).
  contractor: {
    "job.write": false,
    "job.see": false,
    "amendment.decide": false,
    "approval.decide": false,
    "budget.accept_overrun": false,
    "audit.read_deleted": false,
    "note.moderate": false,
  },
};

const CONTRACTOR_PERMISSIONS = new Set([
  "api.jobs.manage.list",
  "api.jobs.manage.manage",
  "api.jobs.case_notes.manage",
  "api.jobs.photos.view",
  "api.jobs.photos.manage",
  "api.jobs.documents.manage",
  "api.jobs.amend_request.manage",
  "api.jobs.amendable_fields.manage",
  "api.jobs.toggle_pin.manage",
  // Their side of the work (POST /api/jobs/work; the lifecycle limits them to their own jobs).
  "api.jobs.work.manage",
  "api.security.tokens.manage",
  "api.jobs.contractors.manage",
]);

describe("policy: can(caller, action, job)", () => {
  const otherJob = { contractorId: 99 };
  for (const role of Object.keys(EXPECTED) as Role[]) {
    it(`${role}: every named action`, () => {
      const caller = { role, contractorId: role === "contractor" ? 7 : null };
      const got = Object.fromEntries(ACTIONS.map((a) => [a, can(caller, a, otherJob)]));
      expect(got).toEqual(EXPECTED[role]);
    });

    it(`${role}: every permission of the reference`, () => {
      const caller = { role, contractorId: null };
      for (const p of PERMISSIONS) {
        const expected = role === "contractor" ? CONTRACTOR_PERMISSIONS.has(p) : ROLE_PERMISSIONS[role].includes(p);
        expect(can(caller, p), `${role} ${p}`).toBe(expected);
      }
    });
  }

  it("contractors see the jobs of their own contractor record, and no job without a record", () => {
    expect(can({ role: "contractor", contractorId: 7 }, "job.see", { contractorId: 7 })).toBe(true);
    expect(can({ role: "contractor", contractorId: 7 }, "job.see", { contractorId: null })).toBe(false);
    expect(can({ role: "contractor", contractorId: null }, "job.see", { contractorId: null })).toBe(false);
  });

  it("a narrowed token keeps only what it names, never more than the role", () => {
    const narrowed = { role: "contractor" as const, contractorId: 7, permissions: new Set(["api.jobs.manage.list" as const]) };
    expect(can(narrowed, "api.jobs.manage.list")).toBe(true);
    expect(can(narrowed, "api.jobs.manage.manage")).toBe(false);
  });
});

// canSeePrivate: role × token × field. The permission first (api.jobs.manage.manage, what
// action=get needs in the reference), then the role (contractors: access details only).
describe("policy: canSeePrivate(caller, field)", () => {
  const FIELDS: PrivateField[] = ["access_details", "private_contact_name", "private_contact_email"];
  const TOKENS = {
    "the role's permissions": undefined,
    "narrowed to api.jobs.manage.list": ["api.jobs.manage.list"],
    "narrowed to api.jobs.manage.manage": ["api.jobs.manage.manage"],
    "narrowed to everything but api.jobs.manage.manage": PERMISSIONS.filter((p) => p !== "api.jobs.manage.manage"),
  } as const;
  const EXPECTED: Record<Role, Record<keyof typeof TOKENS, PrivateField[]>> = {
    admin: {
      "the role's permissions": FIELDS,
      "narrowed to api.jobs.manage.list": [],
      "narrowed to api.jobs.manage.manage": FIELDS,
      "narrowed to everything but api.jobs.manage.manage": [],
    },
    manager: {
      "the role's permissions": FIELDS,
      "narrowed to api.jobs.manage.list": [],
      "narrowed to api.jobs.manage.manage": FIELDS,
      "narrowed to everything but api.jobs.manage.manage": [],
    },
    staff: {
      "the role's permissions": FIELDS,
      "narrowed to api.jobs.manage.list": [],
      "narrowed to api.jobs.manage.manage": FIELDS,
      "narrowed to everything but api.jobs.manage.manage": [],
    },
    agent: {
      "the role's permissions": FIELDS,
      "narrowed to api.jobs.manage.list": [],
      "narrowed to api.jobs.manage.manage": FIELDS,
      "narrowed to everything but api.jobs.manage.manage": [],
    },
    contractor: {
      "the role's permissions": ["access_details"],
      "narrowed to api.jobs.manage.list": [],
      "narrowed to api.jobs.manage.manage": ["access_details"],
      "narrowed to everything but api.jobs.manage.manage": [],
    },
  };
  for (const role of Object.keys(EXPECTED) as Role[])
    for (const token of Object.keys(TOKENS) as (keyof typeof TOKENS)[]) {
      it(`${role}, ${token}`, () => {
        const narrowed = TOKENS[token];
        const permissions = new Set(ROLE_PERMISSIONS[role].filter((p) => !narrowed || (narrowed as readonly string[]).includes(p)));
        const caller = { role, contractorId: role === "contractor" ? 7 : null, permissions };
        expect(FIELDS.filter((f) => canSeePrivate(caller, f))).toEqual(EXPECTED[role][token]);
      });
    }
});
