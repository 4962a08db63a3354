import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DecryptionError, FieldCipher, loadKeyRing } from "../../src/crypto/fields";
import { rotateEncryptedFields } from "../../src/crypto/rotate";
import { ENCRYPTED_COLUMNS } from "../../src/domain/encrypted-columns";
import { actor, api, createJob, expectStatus, getJob, seedFixtures } from "../support/helpers";

const K1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const K2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const ring = (active: string, keys: Record<string, string>) => loadKeyRing(JSON.stringify({ active, keys }));
const ctx = (rowUuid = "11111111-2222-3333-4444-555555555555", column = "private_contact_name") => ({ table: "jobs", column, rowUuid });

describe("field encryption", () => {
  it("round-trips with a fresh nonce each time, in the documented format", async () => {
    const cipher = new FieldCipher(await ring("k1", { k1: K1 }));
    const a = await cipher.encrypt(ctx(), "Jane Doe ✓");
    const b = await cipher.encrypt(ctx(), "Jane Doe ✓");
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(await cipher.decrypt(ctx(), a)).toBe("Jane Doe ✓");
    // 24-byte nonce + 16-byte tag + plaintext bytes.
    const raw = a.split(".")[2] ?? "";
    expect(Math.floor((raw.length * 3) / 4)).toBe(24 + 16 + new TextEncoder().encode("Jane Doe ✓").length);
  });

  it("does not decrypt in another row or column (per-row-and-column keys)", async () => {
    const cipher = new FieldCipher(await ring("k1", { k1: K1 }));
    const sealed = await cipher.encrypt(ctx(), "secret");
    await expect(cipher.decrypt(ctx("99999999-2222-3333-4444-555555555555"), sealed)).rejects.toBeInstanceOf(DecryptionError);
    await expect(cipher.decrypt(ctx(undefined, "private_contact_email"), sealed)).rejects.toBeInstanceOf(DecryptionError);
  });

  it("rejects tampering, unknown keys and garbage", async () => {
    const cipher = new FieldCipher(await ring("k1", { k1: K1 }));
    const sealed = await cipher.encrypt(ctx(), "secret");
    const last = sealed.at(-2) === "A" ? "B" : "A";
    const tampered = `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`;
    await expect(cipher.decrypt(ctx(), tampered)).rejects.toThrow(/does not decrypt/);
    await expect(cipher.decrypt(ctx(), sealed.replace("v1.k1.", "v1.k9."))).rejects.toThrow(/unknown key id/);
    await expect(cipher.decrypt(ctx(), "plain text")).rejects.toThrow(/not an encrypted value/);
    await expect(cipher.decrypt(ctx(), "v1.k1.!!!")).rejects.toThrow(/malformed/);
    await expect(cipher.decrypt(ctx(), "v1.k1.AAAA")).rejects.toThrow(/truncated/);
  });

  it("validates the key ring", async () => {
    await expect(loadKeyRing("nope")).rejects.toThrow(/not valid JSON/);
    await expect(ring("k2", { k1: K1 })).rejects.toThrow(/active key "k2" is not in the ring/);
    await expect(ring("k1", { k1: "c2hvcnQ=" })).rejects.toThrow(/must be 32 bytes/);
  });

  it("keeps old keys readable and rotation moves every value to the active key", async () => {
    const fx = await seedFixtures();
    const staff = await actor("staff");
    // Write values under k1 directly, as an older deployment would have.
    const old = new FieldCipher(await ring("k1", { k1: K1 }));
    const created = await createJob(staff, fx);
    await env.DB.prepare("UPDATE jobs SET private_contact_name = ?, access_details = ? WHERE uuid = ?")
      .bind(
        await old.encrypt(ctx(created.job_uuid), "Old Key Person"),
        await old.encrypt(ctx(created.job_uuid, "access_details"), "Old access"),
        created.job_uuid,
      )
      .run();
    // The Worker's ring (active k2) still reads k1 values.
    expect((await getJob(staff, created.job_uuid)).private_contact_name).toBe("Old Key Person");

    const current = new FieldCipher(await loadKeyRing(env.ENCRYPTION_KEYS));
    const result = await rotateEncryptedFields(env.DB, current, ENCRYPTED_COLUMNS, 1);
    expect(result).toEqual({ rotated: 1, complete: false });
    const rest = await rotateEncryptedFields(env.DB, current, ENCRYPTED_COLUMNS);
    expect(rest.complete).toBe(true);
    const row = await env.DB.prepare("SELECT private_contact_name, access_details FROM jobs WHERE uuid = ?")
      .bind(created.job_uuid)
      .first<Record<string, string>>();
    expect(row?.private_contact_name).toMatch(/^v1\.k2\./);
    expect(row?.access_details).toMatch(/^v1\.k2\./);
    // After rotation the old key can leave the ring.
    const k2only = new FieldCipher(await ring("k2", { k2: K2 }));
    expect(await k2only.decrypt(ctx(created.job_uuid), row?.private_contact_name ?? "")).toBe("Old Key Person");
  });

  it("rotation through the admin endpoint is for admins only", async () => {
    const staff = await actor("staff");
    const denied = await api("POST", "/api/admin/rotate-keys", { token: staff.token, csrf: staff.csrf, body: {} });
    expectStatus(denied, 403);
    expect(denied.body.message).toBe("Missing permission: api.admin.rotate_keys");
    const admin = await actor("admin");
    const res = await api("POST", "/api/admin/rotate-keys", { token: admin.token, csrf: admin.csrf, body: { limit: 100 } });
    expectStatus(res, 200);
    expect(res.body).toMatchObject({ success: true, complete: true, active_key_id: "k2" });
  });

  it.each([[["api.jobs.manage.list"]], [["api.admin.rotate_keys.typo"]]])(
    "an admin token narrowed to %j cannot rotate keys",
    async (permissions) => {
      const narrowed = await actor("admin", { permissions });
      const res = await api("POST", "/api/admin/rotate-keys", { token: narrowed.token, csrf: narrowed.csrf, body: {} });
      expectStatus(res, 403);
      expect(res.body.message).toBe("Missing permission: api.admin.rotate_keys");
    },
  );
});
