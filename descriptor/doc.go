// Package descriptor reads a web context's jeus-web-dd.xml into typed,
// resolved settings: every value checked, defaults filled in, clamps
// applied, and every problem of a file reported at once with its element
// path and line.
//
// It owns the file format and nothing else. It imports only
// github.com/beevik/etree and the standard library, and never endpoint or
// container: the container converts a [Descriptor] into its own settings.
//
//	d, err := descriptor.ParseFile("webapps/chat/WEB-INF/jeus-web-dd.xml")
//	if err != nil {
//		return err // an *Errors lists every problem, one per line
//	}
//	idle := d.WebSocket.IdleTimeout // 30m unless the file says otherwise
//	d.WriteResolved(os.Stdout)     // what `wsc check` prints
//
// # The file
//
// The root element is <jeus-web-dd>, as in JEUS. Its namespace
// (xmlns="http://www.tmaxsoft.com/xml/ns/jeus" in the seed), a namespace
// prefix, xsi: attributes and its version attribute are accepted and
// otherwise ignored: elements are matched by local name. Elements may come
// in any order. Values are trimmed of XML white space (space, tab, CR, LF);
// comments inside a value are skipped, CDATA is text. The file is read as
// UTF-8 whatever its XML declaration says; a byte order mark is skipped.
// The <websocket> element is optional: without it WebSocket works with the
// defaults (seed).
//
// Under the root:
//
//	element                    default     meaning
//	context-path               not set     URL prefix of the context: "/chat", or "/"
//	module                     not set     our extension: the registered Go module to deploy
//	session-config/timeout     30          HTTP session timeout in minutes; ≤ 0: never expires
//	websocket                  defaults    the WebSocket container, below
//
// Other elements under the root and under <session-config> are those of a
// JEUS or Java web descriptor that mean nothing here (<docbase>,
// <auto-reload>, <session-config><tracking-mode>, ...): they are ignored,
// listed in [Descriptor.Ignored] and shown by `wsc check`. Two exceptions
// are errors, so that a mistake is not silently ignored: a name one or two
// letters away from one of ours (<websockets>, <Module>), and an element
// of <websocket> or of the root placed there by mistake (<max-sessions>
// under the root).
//
// Under <websocket>, where every unknown element is an error (sizes in
// bytes, times in milliseconds):
//
//	element                                  default   accepted, clamp
//	max-incoming-text-message-buffer-size    8192      1 … 2³¹-1; a bigger message closes with 1009
//	max-incoming-binary-message-buffer-size  8192      1 … 2³¹-1
//	max-session-idle-timeout-in-millis       1800000   0 < v < 1000 counts as 1000; v ≤ 0 disables ([Disabled])
//	monitoring-period-in-millis              300000    v < 1000 counts as 1000
//	blocking-send-timeout-in-millis          10000     v > 0
//	async-send-timeout-in-millis             30000     v > 0
//	websocket-executor/min                   10        0 … max; a min above max is an error,
//	                                                   but the default min follows a smaller max down
//	websocket-executor/max                   30        1 … 2³¹-1
//	websocket-executor/keep-alive-time       60000     v ≥ 0, milliseconds
//	websocket-executor/queue-size            4096      1 … 2³¹-1
//	distributed-userProperties/enabled       false     true, false, 1 or 0 (xsd:boolean)
//	distributed-userProperties/
//	    use-write-through-policy             false     true, false, 1 or 0
//	init-param (repeated) name, value        none      name not empty and unique; value may be empty
//	batching-buffer-size                     65536     1 … 2³¹-1 (the seed's 655536 is accepted)
//	websocket-timeout-min-threads            1         1 … 2³¹-1
//
// Our extensions, for what JEUS leaves out, also under <websocket>:
//
//	allowed-origins/origin (repeated)  same-origin  the Origin header values accepted at the
//	                                                handshake, others get 403: "scheme://host[:port]"
//	                                                (no path, not even "/"; stored in lower case)
//	                                                or "*" for any
//	trusted-proxies/proxy (repeated)   loopback     IP address or CIDR prefix whose Forwarded and
//	                                                X-Forwarded-For headers are believed; an empty
//	                                                <trusted-proxies/> trusts none
//	permessage-deflate                 false        negotiate RFC 7692 compression when offered
//	max-sessions                       0            most sessions of the context at once; 0 is unlimited
//
// For example, the seed's own (its batching-buffer-size as written):
//
//	<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
//	  <websocket>
//	    <max-session-idle-timeout-in-millis>1800000</max-session-idle-timeout-in-millis>
//	    <websocket-executor>
//	      <min>10</min> <max>30</max> <keep-alive-time>60000</keep-alive-time> <queue-size>4096</queue-size>
//	    </websocket-executor>
//	    <distributed-userProperties><enabled>false</enabled></distributed-userProperties>
//	    <init-param><name>name</name><value>value</value></init-param>
//	    <batching-buffer-size>655536</batching-buffer-size>
//	  </websocket>
//	</jeus-web-dd>
//
// # Where the seed is silent
//
// The seed's example fixes the names and the nesting: the executor's and
// the failover settings are child elements (an attribute such as
// <websocket-executor min="10"> is an error that says so), and an
// <init-param> holds <name> and <value> (web.xml's <param-name> and
// <param-value> are errors that suggest them). It gives defaults only for
// the idle timeout, the monitoring period and the blocking send timeout;
// the others are its example values, except batching-buffer-size, whose
// 655536 we read as a typo of 65536 but accept as written. Sizes and counts
// are Java ints, as in JEUS. keep-alive-time is in milliseconds, as its
// example 60000 suggests. A send timeout of zero or less, which Tomcat reads
// as "wait forever", is an error: a send never waits without bound here.
//
// # Errors
//
// Parse reports, all at once in an [*Errors], each located by path (with
// an index such as init-param[2] when an element repeats) and line:
// malformed XML (wrapping [ErrMalformed] and the decoder's
// *xml.SyntaxError), a root other than <jeus-web-dd>, an unknown element
// (with a suggestion when the name is close to one we know, or names the
// right parent), an attribute where a child element is meant, an element
// that may appear once appearing twice, text where elements are expected
// or elements where a value is, a value that is not a whole number or is
// out of range, a negative size or count, a non-positive send timeout, a
// min above max, a value that is not a boolean, an origin or proxy that
// does not parse (or is listed twice), and an init-param without a name,
// with an empty or duplicate name, or without a value. Nothing is
// resolved from a file with errors.
//
// etree keeps no positions, so lines come from a second pass of
// encoding/xml over the file, matching start tags to elements in document
// order; it runs only when there are problems.
package descriptor
