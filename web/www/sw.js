// The service worker of the offline verifier: on install it caches every file of this build
// (the list and the build id are filled in by scripts/build-web.sh), then serves them cache-first,
// so that after one visit the page, the WebAssembly and the default lists load with no network.
// A new build has a new cache name: its worker installs beside the old one, takes over at once
// and deletes the old cache.
const CACHE = "gdrp-verifier-__BUILD__";
const ASSETS = [
  /* __ASSETS__ */
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // cache: "reload" — straight from the server, not from a stale HTTP cache entry.
      .then((cache) => cache.addAll(ASSETS.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("gdrp-verifier-") && key !== CACHE)
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // Only this site's own files; list URLs on other hosts go to the network untouched.
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  // The page fetches lists from a configured URL with cache "no-store": those want the
  // network (a current list), and the cache only when offline.
  if (request.cache === "no-store") {
    event.respondWith(fetch(request).catch(() => caches.match(request, { ignoreSearch: true })
      .then((hit) => hit || Response.error())));
    return;
  }
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(request, { ignoreSearch: true }))
      .then((hit) => hit || fetch(request)),
  );
});
