"""Stand-ins for Canvas and Infinite Campus on one port, for trying gpb and for testing it.

state.py          the in-memory world, loaded from seed.json (or another seed)
canvas_api.py     Canvas REST under /api/v1 (shapes in canvas_json.py); its writes, with
                  Canvas's refusals and as_user_id, in canvas_writes.py
live_events.py    the signed Live Events its Canvas sends gpb after each change
oneroster_api.py  OneRoster 1.2 under /ims/oneroster (write rules in gradebook.py,
                  schema checks in schema.py against the bundled official OpenAPI file)
faults.py         fault injection for both, switched at run time
keys.py           the key that signs sandbox events, served as /jwks.json
control_api.py    /_sandbox/: change the world, switch faults, read what gpb wrote
control_actions.py  /_sandbox/: post grades, enroll, where Live Events go (they are sent)
canvas_cli.py     `gpb sandbox canvas ...`: teacher changes from the command line
app.py            create_sandbox_app(state, settings)
server.py         run_sandbox() / serve_on_loopback(): serve in the caller's event loop
cli.py            serve() and post(), behind `gpb sandbox` and `gpb sandbox post`
"""
