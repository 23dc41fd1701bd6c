/* channel.c: MessageChannel between a page and its iframe.
 *
 * The page (https://shop.example) embeds a payment widget (https://pay.example). Instead of
 * sending every message through window.postMessage and checking origins each time, the page
 * opens a private channel: it creates a MessageChannel, keeps port1 and hands port2 to the
 * iframe in one postMessage with a transfer list. From then on they talk over the ports.
 *
 * In JavaScript:
 *
 *   // page
 *   const channel = new MessageChannel();
 *   channel.port1.onmessage = (e) => console.log('page got', e.data);
 *   iframe.contentWindow.postMessage('init', 'https://pay.example', [channel.port2]);
 *   channel.port1.postMessage('total 42.00 EUR');
 *
 *   // iframe
 *   window.addEventListener('message', (e) => {
 *     if (e.origin !== 'https://shop.example') return;
 *     const port = e.ports[0];
 *     port.onmessage = (e) => port.postMessage('paid ' + e.data);
 *     port.postMessage('ready');
 *   });
 *
 * Exits non-zero if anything did not happen as expected.
 *
 * Build: cc -std=c11 -Iinclude c-examples/channel.c -Ltarget/release -lpostmessage
 */
#include <stdio.h>
#include <string.h>

#include "postmessage.h"

static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("   !! unexpected: %s\n", what);
  }
}

static int data_is(const pm_message_event *event, const char *text) {
  return event->data_len == strlen(text) && memcmp(event->data, text, event->data_len) == 0;
}

/* ------------------------------------------------------------------ the iframe */

typedef struct {
  pm_port *port; /* the port the page gave us; we own it now */
  int payments;
} widget_state;

/* port.onmessage in the iframe: answer each request over the port. */
static void widget_on_port_message(const pm_message_event *event, void *user_data) {
  widget_state *widget = user_data;
  printf("   iframe  port got \"%.*s\" (origin \"%s\": port messages carry none)\n",
         (int)event->data_len, (const char *)event->data, event->origin);
  char reply[96];
  int len = snprintf(reply, sizeof reply, "paid %.*s", (int)event->data_len,
                     (const char *)event->data);
  widget->payments++;
  printf("   iframe  replies \"%s\" over the port\n", reply);
  pm_port_post_message(widget->port, (const uint8_t *)reply, (size_t)len, NULL, 0);
}

/* window.addEventListener('message', ...) in the iframe: accept the port from the page. */
static void widget_on_window_message(const pm_message_event *event, void *user_data) {
  widget_state *widget = user_data;
  printf("   iframe  window got \"%.*s\" from %s with %zu port(s)\n", (int)event->data_len,
         (const char *)event->data, event->origin, event->ports_len);
  if (strcmp(event->origin, "https://shop.example") != 0) return; /* only trust the shop */
  if (!data_is(event, "init") || event->ports_len != 1) return;
  widget->port = event->ports[0];
  /* The first listener starts the port; then say hello. */
  pm_port_add_listener(widget->port, widget_on_port_message, widget);
  printf("   iframe  starts its port and says \"ready\"\n");
  pm_port_post_message(widget->port, (const uint8_t *)"ready", 5, NULL, 0);
}

/* ------------------------------------------------------------------ the page */

typedef struct {
  int got_ready;
  int got_paid;
} page_state;

static void page_on_port_message(const pm_message_event *event, void *user_data) {
  page_state *page = user_data;
  printf("   page    port got \"%.*s\"\n", (int)event->data_len, (const char *)event->data);
  if (data_is(event, "ready")) page->got_ready++;
  if (data_is(event, "paid total 42.00 EUR")) page->got_paid++;
}

int main(void) {
  printf("postmessage %s: a MessageChannel between a page and its iframe\n\n", pm_version());

  pm_window *page = pm_window_new("https://shop.example/checkout");
  pm_window *iframe = page ? pm_window_new_child(page, "https://pay.example/widget") : NULL;
  if (!page || !iframe) {
    printf("could not create the windows: %s\n", pm_last_error());
    return 1;
  }
  widget_state widget = {NULL, 0};
  page_state state = {0, 0};
  pm_add_listener(iframe, widget_on_window_message, &widget);

  printf("1. The page creates a MessageChannel and listens on port1.\n");
  pm_port *port1 = NULL, *port2 = NULL;
  expect(pm_channel_new(page, &port1, &port2) == PM_OK, "pm_channel_new");
  pm_port_add_listener(port1, page_on_port_message, &state);

  printf("2. The page posts \"init\" to the iframe, transferring port2.\n"
         "   (In the default SYNC mode the iframe's listener, and the page's port listener for\n"
         "   its reply, run inside this call.)\n");
  pm_port *transfer[] = {port2};
  pm_result rc = pm_post_message_transfer(page, iframe, (const uint8_t *)"init", 4,
                                          "https://pay.example", transfer, 1);
  printf("   -> %s\n", rc == PM_OK ? "PM_OK" : pm_last_error());
  expect(rc == PM_OK, "the transfer post succeeded");
  expect(widget.port != NULL, "the iframe received the port");
  expect(state.got_ready == 1, "the page heard \"ready\" over port1");

  printf("3. port2 now belongs to the iframe: the page's old handle is dead.\n");
  rc = pm_port_post_message(port2, (const uint8_t *)"x", 1, NULL, 0);
  printf("   pm_port_post_message(port2, ...) -> %s\n",
         rc == PM_ERR_INVALID_HANDLE ? "PM_ERR_INVALID_HANDLE" : "something else");
  expect(rc == PM_ERR_INVALID_HANDLE, "the transferred handle is invalid for the page");

  printf("4. They talk over the ports: no origins to check, nobody else can listen in.\n");
  rc = pm_port_post_message(port1, (const uint8_t *)"total 42.00 EUR", 15, NULL, 0);
  expect(rc == PM_OK, "port1 post");
  expect(widget.payments == 1, "the iframe handled one request");
  expect(state.got_paid == 1, "the page got the answer");

  printf("5. The iframe closes its port; the page's messages are now dropped.\n");
  expect(pm_port_close(widget.port) == PM_OK, "the iframe closes its port");
  rc = pm_port_post_message(port1, (const uint8_t *)"anyone?", 7, NULL, 0);
  printf("   pm_port_post_message(port1, \"anyone?\") -> %s\n",
         rc == PM_DROPPED ? "PM_DROPPED (the partner is closed)" : "something else");
  expect(rc == PM_DROPPED, "posting to a closed partner is dropped");

  expect(pm_port_close(port1) == PM_OK, "the page closes port1");
  pm_window_free(page); /* frees the iframe too */

  if (failures) {
    printf("\n%d unexpected result(s)\n", failures);
    return 1;
  }
  printf("\nAll as expected.\n");
  return 0;
}
