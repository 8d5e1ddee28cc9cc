from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "club_bans" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "reason" VARCHAR(500) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "created_by_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_club_bans_club_id_8c2ad8" UNIQUE ("club_id", "user_id")
);
        CREATE TABLE IF NOT EXISTS "club_invites" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "expires_at" TIMESTAMPTZ,
    "revoked_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "created_by_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "club_invites" IS 'An invite code to a (usually private) club; it may expire and can be revoked.';
        CREATE INDEX IF NOT EXISTS "idx_clubs_search" ON "clubs"
            USING GIN (to_tsvector('english', "name" || ' ' || "description"));"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_clubs_search";
        DROP TABLE IF EXISTS "club_invites";
        DROP TABLE IF EXISTS "club_bans";"""


MODELS_STATE = (
    "eJztXVtT2zgU/iuePNEZtkNNElj2KdC0zRbCDqS7nZaOR7FFosWWU18CmS7/fSXFd1uOnT"
    "jBMXohRtKR5e9IR+d8kuxfLcPUoG6/7alTBOfQgNhpnUm/WhgYkFxkZR9KLTCbhZk0wQFj"
    "nZUHYUGWAca2YwGVVnoPdBuSJA3aqoVmDjIxScWurtNEUyUFEZ6ESS5GP12oOOYEOlNokY"
    "zvP0gywhp8grb/7+xBuUdQ12KtVknD6N1ZjuIsZiz1YgqsD6wsveFYUU3dNXC0/GzhTE0c"
    "CJAW0dQJxNACDtQiD0Hb6D2zn7RsL0lwLBcGDdXCBA3eA1d3Ig89VsK0lqIMr0fKbX+kKK"
    "0SMKkmphAjCjjFwABPig7xxJmSf7vt5+V9QiSWpegN/+7dXHzq3Rx022/oDU2ip6USh16O"
    "zLKeWRXAActKGPIh1A5y9FJYBwLVgO0nhGiH/WzncL87OiqANynFBZzlUcRDhKMtK4FzQq"
    "yBaB8XQvs4B+3jJdrUjtw/RLo3TRgD9eERWJoSywnVAmimndbIuSf34fMN1AEHfs+sfrGh"
    "lTCte6aRZ7/b+ameuWOYmrLJAzWdZchGMgVgMGGPRO9N7+TBdqG746xZiqXnTk8qKfGC8x"
    "LSMvoLmgywkz2Gl+UTfQelO4o3wdR3UprQJvz2uywfH5/IR8fd00775KRzenRKyrL2prNO"
    "csb2+eDjYDiKj2qakD9Vsd8SFtQv30DTufuJagSfOJ38xSaqVmu7RjEL2lH/K+u3hm3/1K"
    "OIHlz1vjKwjYWXc3k9/OgXj2jg4vL6PAH8HNlojHTkLLK7dx+7BsN+QJoJsApTOojXsEMV"
    "zNyxjtSSivCkzqTl7x2eWWhOWkYSlhetdYZEt8iI6PIHRDc5HlQLUrgU4KTV8p7kOMiAnH"
    "gkJplQh+aJvvUv9tEakQfUrrG+8N2FnBEzuOrfjnpXf8WGzfveqE9z5NiQ8VMPkmoKKpH+"
    "GYw+SfRf6dv1sM/gNW1nYrE7huVG31q0TcB1TAWbjwrQInOmn+qjlqn18UIpO92nRFfP/P"
    "ug651N/ik/PksraZV8MC2IJvgzXKSMJN9t30NF8Hx1kmyBx8BdTXdDggB5bugwDG7IALkZ"
    "XBC8i0RJY4A3jJGoU38OcIPwjpkLhOfIgRVgNGAVNRUmEiF7jOL6KPXnDYuxowAZ0BhDy5"
    "6i2YYoXQUVNRUqyzSNDUG6IVU0CZ5tszXUgHMIG8+253M2ij+PVMvbfGeV03pdOqX/EDxO"
    "XVy5wxweh7gndjkuPJRoALsQD1s7hZicTg6T00kzOSJy5aPf4MiVGtrSMWsoJKLVkiZOkA"
    "Y1UwP1AkorICIkoK+Mr/H8sg2ZGn9FcM9UUJipCY1vjKO56N1e9N73W6nOLcivVZBGRvNq"
    "SAWrWBWrGMDLJxW3HaN6BBonTA3ptRWRaoTQWxmstnpYWpaX6BY0yTElIB24tgt0feEvZr"
    "2RaL1/SMiRDLCQ4NMMWVACWJNUgKUxlCw4Nx+g9ja56lV97WLrQ41n08OckFlsiPT3jMlF"
    "tozJ/B1jcjJWXo4Ye41YOS5ZQazswVqzmaHuobGPSW5s7FnBNbQclxRarrOWBe/FN6OC9x"
    "K8l+C9mqMGQb7sknwRTEFDmILlJpIMkiDYXcLnB8JNLOL4weuLwcVJuUgcLhdatpZzlq1l"
    "cQBhlaXd2QEEMmFZzjoUSExwN1HTLg3PngRJhWJjiLW1SK5QrIFRcZMUrIIZUDPPEPFjsI"
    "jIWuFXzbgsz1GQ37VP2qfH3XbgHwQpeW5BOrwl5s1xM7aaFjuUFUrvcEqy1SnUXB1qJeem"
    "UPBMCi7vsI7m8Eyif+8wMQU0l/0k16qK+AzVn9CyXcMAVkaP//P2esiZsUKRpD1DqiP9R5"
    "7V3sOen4MsxSLfY0g6BwnjRCtIegyCaeV3esG0Cqa1cqZ1SjRZGvqIkIB+bejpeZPS0EeE"
    "GuRZCV77xaf4anltaiEEo70K0ogd5ZylTdqLCjAteEatZoaiKKQR+xiDlNxfGn65vCx2PN"
    "my55uel7whVTSo6271KGDkbGnGCkr85Cl/GSVx1FUcCRRrK5bJW1pZTbP4sjskWZY9uCzD"
    "Yj6SppxJ7OcO04FBGmaSlOCSpLKaSVJ4hxdnWQyXxusudpBeNthPiIrdc3UmkP81EV6L0o"
    "kJCkanLkoXjE4N50BxWFHwCvVSgTisWN/Dii+zR44xDxkBns9I8EO74NU82wrqWItEUFcb"
    "q3qYE9SJ9/Vu9329tk5cPToIlQwKjNvHE1K78yKOttvZK9v0IZa2+VCLQEgEQsIbr4PruN"
    "IbL7J8ssu3ctaTuNvt+glba8pyrL01qBzH2l/oqtqxhr76xHJJvSxknme9f/tSy6ukNTGJ"
    "Is4k9nOHHwFy6NZMugM1vL7DKn1EnW1bDS7rsWwi/MjX6Ee6M21NrcclhdbrovWMtbPs15"
    "uXDh+iUiJ+EAsp+wF9TugWOJMbxm5Ne9P/YSJ4iw58sZbS6LUUhnpGyOdrgx/y0QcSLxt4"
    "pREeNEDWbiv+4kkg0MBX/hX6TKyc85lYObV2MgO2/WiSwT0F9rQMzinBOsfQayIudzpFXu"
    "7Q6fBf7kDzEi93QPZMBwul7KpgUq6BeHeKfQIi5wsQSbDHyCyDsVe8AW/O2MHHNZilVebQ"
    "QqTSdQL9zArE1tj6hPcZq4OCy2sYqyO4vNeodR6Xl+I0iqyeso/RK94A32wRtWGL1XFfBG"
    "BbQbbtVgFSg78kKj61WuxTq9WNuNfwyVWFnl3eFKym8bHx423iy6tFoRLHrXPhAeoUkVFn"
    "bL6pirLDvbC2JgG2bbI9ChuHd08gm0/BK0mtVr0Dy1/eidxH7MPaD5Ye0C67VoAYlxQBYl"
    "0CxCK0QGSgZm474POsackGstnddgHOtdvmUq40S2zwqOcGD7EVoZKtCBxrUgGyzXQakwCn"
    "7Widtnz0oIXUaZbz6eXk+pwgLFObfR+vxZ3c8Awh31GcQ8vO/KoB31eIiDTQSdjKFgM6qM"
    "p4Y8viDUR3K8eNyR2dzEmK/7LtiMhGL9uuG9o54Fb2tu0SS1LVT2bP/wMVAlgd"
)
