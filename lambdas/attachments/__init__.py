"""Images and documents sent with a `sendtext`: `formats` (what may be attached, the real type of an object),
`service` (the `attach` upload and, at `sendtext`, the owner-checked, size- and type-checked objects)."""
