from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "achievements" (
    "code" VARCHAR(64) NOT NULL PRIMARY KEY,
    "title" VARCHAR(100) NOT NULL,
    "description" VARCHAR(300) NOT NULL
);
CREATE TABLE IF NOT EXISTS "users" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "email" VARCHAR(320) NOT NULL UNIQUE,
    "password_hash" VARCHAR(255) NOT NULL,
    "display_name" VARCHAR(50) NOT NULL,
    "bio" VARCHAR(500) NOT NULL,
    "email_verified_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "clubs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL,
    "description" TEXT NOT NULL,
    "visibility" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "created_by_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
COMMENT ON COLUMN "clubs"."visibility" IS 'public: public\nprivate: private';
CREATE TABLE IF NOT EXISTS "memberships" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "role" VARCHAR(16) NOT NULL,
    "muted_until" TIMESTAMPTZ,
    "joined_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_memberships_club_id_dd998c" UNIQUE ("club_id", "user_id")
);
COMMENT ON COLUMN "memberships"."role" IS 'owner: owner\nmoderator: moderator\nmember: member';
CREATE TABLE IF NOT EXISTS "rooms" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL,
    "slow_mode_s" INT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_rooms_club_id_0b09af" UNIQUE ("club_id", "name")
);
CREATE TABLE IF NOT EXISTS "events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "title" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "starts_at" TIMESTAMPTZ NOT NULL,
    "ends_at" TIMESTAMPTZ NOT NULL,
    "capacity" INT,
    "status" VARCHAR(16) NOT NULL,
    "summary" JSONB,
    "created_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "host_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "room_id" BIGINT REFERENCES "rooms" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_events_starts__e31d1d" ON "events" ("starts_at");
COMMENT ON COLUMN "events"."status" IS 'scheduled: scheduled\nlive: live\nended: ended';
CREATE TABLE IF NOT EXISTS "rsvps" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "event_id" BIGINT NOT NULL REFERENCES "events" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_rsvps_event_i_dceb75" UNIQUE ("event_id", "user_id")
);
COMMENT ON COLUMN "rsvps"."status" IS 'going: going\nwaitlisted: waitlisted\ncancelled: cancelled';
CREATE TABLE IF NOT EXISTS "user_achievements" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "awarded_at" TIMESTAMPTZ NOT NULL,
    "achievement_id" VARCHAR(64) NOT NULL REFERENCES "achievements" ("code") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_user_achiev_user_id_da78ea" UNIQUE ("user_id", "achievement_id")
);
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXVtzmzgU/iseP3Vnsp0Ux042b67jtN4mzo7j7nbadBgZFFtbEC4IJ55u/vtKMncQAd"
    "+CiV5icqQjie9IR+cC4lfTtHRoOG+72gzBBTQhJs3zxq8mBiakF1nFR40mmM/DQkYgYGLw"
    "+iCsyAvAxCE20Fij98BwICXp0NFsNCfIwpSKXcNgREujFRGehiQXo58uVIk1hWQGbVrw7T"
    "slI6zDR+j4/85/qPcIGnps1BodGOudl6hkOefU3gzYl7wu63Ciapbhmjhaf74kMwsHDHRE"
    "jDqFGNqAQD1yE2yM3j37pNV4KYHYLgwGqocEHd4D1yCRm56oIa2pqsObsXrbH6tqswRMmo"
    "UZxIgBzjAwwaNqQDwlM/pv5+Rp1U+IxKoW6/Dv7qj3sTt60zn5jXVoUTmthDj0ShRe9MSb"
    "AASsGuHIh1ATRIxSWAcM2wHbJ4Roh/Ns73C/Oz4ugDetJQSclzHEQ4SjIyuBc4Kthmi3Cq"
    "HdykG7tUKb6ZH7H5HpzQgToP14ALauxkpCsQBW6KQl8t7ju/w0ggYQwO+p1c8OtBOq9cAk"
    "8uRPO5/qqTuOqaVYIlDTRaZiJikAgym/JdY368mDrWe4k6xditNztyeN1njBfQnpGfMFTQ"
    "eYZK/hVf3E3EHpieJtMNXdlKZsCL//oSit1qly3OqctU9OT9tnx2e0Lh9vuug0Z22/H3wY"
    "DMfxVc0I+VsV/y2hQf36NVSd+9+oxvBRMMlfbKNqNnerFLOgHfe/8HlrOs5PI4rom+vuFw"
    "62ufRKrm6GH/zqEQn0rm7eJ4BfIAdNkIHIMnt697FrcuwHdJgAazAlg3gLexTB3J0YSCsp"
    "CI/rvLH6vcNzGy3oyChhddFcZ0l0iqyIjnhBdJLrQbMhg0sFJC2WC1pCkAkF/kiMMyEO3W"
    "N9618cojaiN6jfYGPpmws5K2Zw3b8dd6//ii2bi+64z0qU2JLxqW+SYgoaafwzGH9ssH8b"
    "X2+GfQ6v5ZCpzXsM642/NtmYgEssFVsPKtAje6ZP9VHLlPpkqZbd7lOsz+/8hyDrvW3+KT"
    "s+SyppkVxaNkRT/AkuU0pSbLYfoCBEtjol2+AhMFfT05AiQO8bEo7BiC6Q0aBH8S7iJVHP"
    "xosEre8l9Rc1842i6sKE5gTazgzNN0TpOmiorlDZlmVuCNKINlEneHbpZa+WXYabHaxHsZ"
    "8dLnvpaL8+R1vGhCN+hVLI1VZyXG1FutrPaca9udrUNLSJs4ZLF2Pcj0e3T8VzIA6cD1Ku"
    "Bwexvo6EI2w19NjrJGANzIGWGS0Tu+YRlrW8cm8xVkWcnqGgvDs5PTlrdU4C+yCg5JkFvg"
    "kQ04vEzTDOi4UfQ+49bkmONoO6a0C95N4UMp43gss7bKAFPG+wv3eYqgJWyn+qEYt0XNME"
    "dsaM//P2ZijYsUKWpD5DGmn8R+/VOcCZn4MswyLfYkgaBwnlxBpIWgwyCiye9DWOAhvupH"
    "z8N2SSkd+S3mgI/YxKsjT0ESYJ/drQswhdaegjTDWyrF443eE9CbNhosN/oObAJn/hREeo"
    "b2Mpjl73tte96DdTakXmjp6DNKJHBVmjpL7YAqYFo/oVUxRFIY3oxxiktP/G8PPVVbFEnO"
    "0sNs0wjWgTNZq6O02eRLJxGRmUeK5OnEZJJAe3m0v5FuwSLtNJ32VupSob+1FObsW2RKmV"
    "58MsPu8egyyrGVw2wmI90KGcN/jPHWYLgw7MopTgklJ5y5QU9vDiURbTZf66iwkyyjr7Cd"
    "YtePvV3O6q7twXCiD/ayG8VkgnxigjOlURuozoVHAPDKFn9klp6CNMEnoZV6hsXMH1AgIy"
    "rpAHaWQ1Z0Mq9oF36ebxyEOGg+dHJMSuXfAw466cOj4i6dRVRqse5Th18s203b6Z5hjU1G"
    "OLUM0IgQnneIJrf1bE8W4n+9Ye+pCpbTHU0hGSjpC0xqtgOj5rjVftPaZqBu72mz/huaYs"
    "w9rLQeUY1n6ia9uGNfTFJ9Ml1dKQeZb14T2XWl4kzalFBXHe4D93+AEgwh7NZE+ghtd3WG"
    "O3aPDHVoPLaqRNpB35Gu1Id66vKfU4p5R6VaSekTtLvcTLd9HS7kOUS/oPMpFyGNDnuG6B"
    "Mbmh71a3sxGOEs5bdOHLXEqtcykc9QyXz5eG2OVjNyQPG3ilHh40QdbTVuLkScBQu9N+W0"
    "qhA1GVnANRlVTuZA4c58Gii3sGnFkZnFOMVfah10RcabeLHO7QbosPd2BlicMdkDM3wFIt"
    "mxVM8tUQ73aRCd4Wz+92anpPkFUGY696DU7OSAJbDNk8aFPYck2rLqCNaKPrOPqZDchHY6"
    "vj3mdkB2Usr2ZRHRnLe41SF8XyUjGNItlTfuy66i3wzZKoNUtWp2OjjsreodwUprrFheKv"
    "2cgzMwufmSlf+8yDJ/m5ovVRkp/yWDvo98y3pzKQzQ8Fqrv9CNW3IMwc6Uc+D3IY0UL+1Z"
    "61DNU4pzRUq2KoFnFPIgs1M/0pjvekOWsYVdvWV+Jkorl6iWaZEt1KSlSgTbaAbD2NxiTA"
    "aT1apdRzF9pIm2UZn15Jrs0JwjqVyT+/FnNyw3eZxIbiAtpOyS9uRlhqaCTsJNXJFlUZa2"
    "xVvYbo7uS1R9ojydykxIf+Rlg2OvS3amjngLu1U39LhMa3v5k9/Q86Pp7R"
)
