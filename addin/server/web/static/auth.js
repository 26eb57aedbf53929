// The credentials that xlwings' Office.js client sends with every call.
//
// Before each request the client calls globalThis.getAuth() and sends its
// {token, provider} as the Authorization and Auth-Provider headers. The
// task pane's config (authProviders, as for xlwings' own auth.js) says what
// the server expects:
//
//   ["token"]    the team's shared token, entered once in the task pane
//                and kept in OfficeRuntime.storage (the shared runtime's
//                storage, which survives Excel restarts), or localStorage
//                where Office offers no OfficeRuntime;
//   ["entraid"]  an Office single sign-on token, from xlwings' entraid.js
//                (globalThis.xlwings.getAccessToken);
//   []           nothing.
//
// A plain script, loaded before the custom functions' code: getAuth must
// exist before the first call.

(function () {
  "use strict";

  const STORAGE_KEY = "kpiAddinAccessToken";
  // Read from storage once per runtime, then kept here: getAuth runs for
  // every cell that recalculates.
  let savedToken = null;

  function tokenStorage() {
    if (typeof OfficeRuntime !== "undefined" && OfficeRuntime.storage) {
      return OfficeRuntime.storage;
    }
    return {
      getItem: async (key) => localStorage.getItem(key),
      setItem: async (key, value) => localStorage.setItem(key, value),
      removeItem: async (key) => localStorage.removeItem(key),
    };
  }

  async function readToken() {
    if (savedToken === null) {
      try {
        savedToken = (await tokenStorage().getItem(STORAGE_KEY)) || "";
      } catch (error) {
        // No storage (blocked, private mode): the server's 401 says what to do.
        console.error("KPI add-in: cannot read the saved access token", error);
        return "";
      }
    }
    return savedToken;
  }

  // Saves the token for every later call; an empty one forgets it.
  async function saveToken(token) {
    const trimmed = String(token || "").trim();
    const storage = tokenStorage();
    if (trimmed) {
      await storage.setItem(STORAGE_KEY, trimmed);
    } else {
      await storage.removeItem(STORAGE_KEY);
    }
    savedToken = trimmed;
  }

  function authProviders() {
    const config = globalThis.config;
    return (config && config.authProviders) || [];
  }

  globalThis.getAuth = async function () {
    const providers = authProviders();
    if (providers.includes("entraid")) {
      return {
        token: await globalThis.xlwings.getAccessToken(),
        provider: "entraid",
      };
    }
    if (providers.includes("token")) {
      const token = await readToken();
      return { token: token ? "Bearer " + token : "", provider: "token" };
    }
    return { token: "", provider: "" };
  };

  globalThis.kpiAuth = { saveToken, readToken };

  // The task pane's "Access token" form (taskpane.html, auth=token only).
  function connectTokenForm() {
    const form = document.getElementById("kpi-access-token-form");
    if (!form) {
      return;
    }
    const input = document.getElementById("kpi-access-token");
    const status = document.getElementById("kpi-access-token-status");
    readToken().then((token) => {
      if (token) {
        status.textContent = "A token is saved.";
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await saveToken(input.value);
        input.value = "";
        status.textContent = savedToken
          ? "Saved. Recalculate the workbook to retry the cells that failed."
          : "The saved token is forgotten.";
      } catch (error) {
        status.textContent = "The token could not be saved: " + error;
      }
    });
  }

  if (typeof document !== "undefined") {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", connectTokenForm);
    } else {
      connectTokenForm();
    }
  }
})();
