/**
 * The product page's TypeScript example, unchanged between the markers. `db` and `mail`
 * are tiny local stand-ins for the app's own database and mailer.
 */
import { createFunction } from "../src/index.js";

interface User {
  id: string;
  email: string;
}

export const users = new Map<string, User>([["u-1", { id: "u-1", email: "ada@example.com" }]]);
export const sentMail: User[] = [];

const db = {
  users: {
    find: async (id: string): Promise<User> => {
      const user = users.get(id);
      if (!user) throw new Error(`no user ${id}`);
      return user;
    },
  },
};

const mail = {
  send: async (user: User): Promise<{ to: string }> => {
    sentMail.push(user);
    return { to: user.email };
  },
};

// --- product page example (verbatim) ---
const onboarding = createFunction({
  id: "onboarding",
  trigger: { event: "user.created" },
  concurrency: { limit: 2, key: "tenantId" },
  handler: async ({ event, step }) => {
    const user = await step.run("load-user", () => db.users.find(event.data.id));
    await step.sleep("cooldown", "2d");
    const ok = await step.waitForEvent("approve", {
      event: "approval.received", match: { userId: user.id }, timeout: "7d" });
    await step.run("send-email", () => mail.send(user));
    return { approved: ok !== null };
  },
});
// --- end of the product page example ---

export { onboarding };
