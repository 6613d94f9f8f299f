/** The CLI's help text (`gossip help`). */
export const USAGE = `usage: gossip <command> [options]

commands:
  register --server URL --user NAME [--display-name TEXT]
                           create an account; keys are generated here and kept in
                           $GOSSIP_HOME/<server-host>/<user>/ (default ~/.gossip)
  login --server URL --user NAME
                           log in (the account's keys must be on this machine)
  logout                   revoke this machine's session
  whoami                   show the current account and its key fingerprint
  fingerprint CONTACT      show CONTACT's fingerprint and your safety number with them
  trust CONTACT FINGERPRINT
                           after an identity reset: accept CONTACT's new keys, given the
                           fingerprint (or safety number) you compared with them; refused
                           if it does not match. Trusting does not mark them verified
  verify CONTACT SAFETY_NUMBER
                           mark CONTACT verified: the safety number you compared in person
                           (a verified contact whose keys change must be verified again)
  rotate-keys              publish new keys, signed by your current ones (contacts follow
                           the change; needs the password)
  contacts                 list contacts and requests
  add CONTACT              ask CONTACT to become a contact
  accept CONTACT           accept CONTACT's request (and start the conversation)
  send CONTACT TEXT        send one message; exits once the server accepted it
  send-file CONTACT PATH   encrypt and send a file (at most 25 MiB by default); exits
                           once the message carrying it was accepted
  listen [--files DIR]     print incoming messages (acking each once printed) and save
                           the files that come into DIR (GOSSIP_FILES, or files/ in the
                           account folder); an existing file is never overwritten
  chat CONTACT [--files DIR]
                           interactive chat: type lines, see replies and ticks
                           (✓ accepted by the server, ✓✓ received by CONTACT)

The password comes from GOSSIP_PASSWORD or is asked for. --server and --user default
to the account last used with register or login. --gateway ws://HOST:PORT/ws (saved at
register/login; default: the server's host, port 8081) is where send, listen and chat
connect. Plain http:// and ws:// are refused unless the host is this machine (localhost,
127.0.0.0/8, ::1); --insecure allows them anyway (passwords and tokens then cross the
network in clear).`;
