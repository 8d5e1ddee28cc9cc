from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "club_automod" (
    "blocked_terms" JSONB NOT NULL,
    "link_min_member_age_s" INT,
    "max_mentions" INT,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL PRIMARY KEY REFERENCES "clubs" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "club_automod" IS 'A club''s auto-moderation rules; no row: none. Terms are literals (matched on word boundaries,';
        CREATE TABLE IF NOT EXISTS "dm_members" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "room_id" BIGINT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_dm_members_room_id_6b553e" UNIQUE ("room_id", "user_id")
);
CREATE INDEX IF NOT EXISTS "idx_dm_members_user_id_323874" ON "dm_members" ("user_id", "room_id");
COMMENT ON TABLE "dm_members" IS 'One person of a direct-message room (fixed when the room is made).';
        CREATE TABLE IF NOT EXISTS "reports" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "seq" BIGINT NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "snapshot" JSONB NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "action" VARCHAR(16),
    "resolved_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "reporter_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "resolved_by_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "room_id" BIGINT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_reports_reporte_9c2398" UNIQUE ("reporter_id", "room_id", "seq")
);
CREATE INDEX IF NOT EXISTS "idx_reports_club_id_37d3c5" ON "reports" ("club_id", "status", "id");
COMMENT ON COLUMN "reports"."status" IS 'open: open\nresolved: resolved\ndismissed: dismissed';
COMMENT ON TABLE "reports" IS 'A member''s report of one message to its club''s moderators, with a snapshot of the message as it';
        ALTER TABLE "rooms" ADD "last_activity_at" TIMESTAMPTZ;
        ALTER TABLE "rooms" ADD "dm_key" VARCHAR(200) UNIQUE;
        ALTER TABLE "rooms" ADD "kind" VARCHAR(8) NOT NULL DEFAULT 'club';
        ALTER TABLE "rooms" ALTER COLUMN "club_id" DROP NOT NULL;
        ALTER TABLE "users" ADD "dm_policy" VARCHAR(16) NOT NULL DEFAULT 'club_members';
        COMMENT ON COLUMN rooms."kind" IS 'club: club\ndm: dm';
COMMENT ON COLUMN users."dm_policy" IS 'everyone: everyone\nclub_members: club_members\nnobody: nobody';
        CREATE TABLE IF NOT EXISTS "message_search" (
    "room_id" BIGINT NOT NULL,
    "seq" BIGINT NOT NULL,
    "club_id" BIGINT,
    "author_id" BIGINT NOT NULL,
    "author_name" VARCHAR(50) NOT NULL,
    "ts" BIGINT NOT NULL,
    "rev" BIGINT NOT NULL,
    "text" TEXT NOT NULL,
    "tsv" TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', "text")) STORED,
    PRIMARY KEY ("room_id", "seq")
);
CREATE INDEX IF NOT EXISTS "idx_message_search_tsv" ON "message_search" USING GIN ("tsv");
COMMENT ON TABLE "message_search" IS 'The search index of message text (storage/search.py), kept by the indexer from the rooms'' commit stream; a deleted message keeps its row with empty text.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "message_search";
        DROP INDEX IF EXISTS "uid_rooms_dm_key_fd2b6d";
        ALTER TABLE "rooms" DROP COLUMN "last_activity_at";
        ALTER TABLE "rooms" DROP COLUMN "dm_key";
        ALTER TABLE "rooms" DROP COLUMN "kind";
        ALTER TABLE "rooms" ALTER COLUMN "club_id" SET NOT NULL;
        ALTER TABLE "users" DROP COLUMN "dm_policy";
        DROP TABLE IF EXISTS "reports";
        DROP TABLE IF EXISTS "club_automod";
        DROP TABLE IF EXISTS "dm_members";"""


MODELS_STATE = (
    "eJztXVtz2zYW/isYvdSZUTKOfEnW3dkZ23G73sZ2x3G3ncYdCiJhC2sSUAlSjqbNf18AvF"
    "9FSpQMMXixZBIHpL6Dy7njr4FDLWSzN6fmFKM5chDxBifgrwGBDuJfym4PwQDOZslNccGD"
    "E1u2h0lDeQNOmOdCU3T6AG2G+CULMdPFMw9Twq8S37bFRWryhpg8Jpd8gv/0keHRR+RNkc"
    "tvfP6DX8bEQl8Qi/6dPRkPGNlW5q1N/mLi6fKO4S1m8ur5FLo/yLbigRPDpLbvkHT72cKb"
    "UhIT8DcSVx8RQS70kJX6EeIdw98cXQrel1/wXB/FL2olFyz0AH3bS/3oiZFcGxjG9c2d8e"
    "nizjAGLWAyKREQYwG4wMCBXwwbkUdvyv89PvwaPCdBImglHvjf09vzf5/e7h0fvhIPpJxP"
    "AROvwzsjeeur7AJ6MOhEIp9A7WHPboV1TNAN2NGFBO1knG0d7rf7+w3w5q0qAZf3BOIJwu"
    "k3a4FzjqyHaB80QvugBu2DAG2xjjw8pYa3uDCB5tMzdC0jcydhCxQ3WZEjZyHdDz/dIhtW"
    "wB8uq78w5OaW1h3jyNdo2EVXw+VOYkpHtArU4i1n5OSvQAIf5U8SzxZPCmE7t/1J2S4lr9"
    "duTyZv8YL7ErZKxgt+vCRe+RwO2ufGDi4OlHCDUXdTehSv8Pofo9HBwbvR/sHx+6PDd++O"
    "3u+/523l+xZvvauZ22eXP15e32VntbhQv1XJzxYraNS+h0vn9jeqO/SlYpC/2EY1GGx2US"
    "yD9u7iNzluHcb+tNOI7l2d/ibBdhbhnY831z9GzVMcOP94c5YDfo4ZnmAbe4vy4X1BfEdi"
    "f8lfExITFXiQ7WGLLJj5ExubLRkRUp2A4POezFw852/GLwRfBqtMieMmM+K4ekIc5+eD6S"
    "IBlwG9Ils+8DsedlCFPpKhzLHDCknfRF92cTXiP9C6IfYiEhdqZszl1cWnu9OrnzPT5sPp"
    "3YW4M8pMmejqXp5NcSfg18u7fwPxL/j95vpCwkuZ9+jKJybt7n4fiHeCvkcNQp8NaKX2zO"
    "hqhFop1ycLo+12XyBdvvPvAq+3tvkX5PgyrhRZ8gN1EX4kP6FFYZGsFtt3kBFVsjq/7MLn"
    "WFwtDkOOAP/dyJMY3PIJcnt5zvFuoiVNIFlTRxJC/RkkPcI7s1xgMsce6gCjS9lRX2HiGn"
    "JoUVwdpYt5z3TsNEAOcibIZVM8WxOlq7ijvkLlohl11x1Mt7KT3kJEqbMuQLyLBvCEG5Dy"
    "6LSyZ6WshFxU5IBUQ3lD0B3lf5ot8qdJdz3CtaXpLwKhwgKYwqjeEGikmLPUHjg4BYLmOw"
    "YE1WvRpSsZBlzfRux7QChw6TN/YUrQG3CHXIc3dRHgSjVvaTOw50DPnCILcJpn6lpgQn1i"
    "QRcjNswrrJt92j0xIUOvH6htIevVEBC+u7pgBj1OS9ibwXA955uAtrXqkxB1o/Roe+dgYl"
    "PzicvxnhgdRXb859PNdTkzCoR5CwQ2PfA3H2tsYxvg4J8PPjHliJ/42PYwH5fief96AZud"
    "AKreZpc3zw2zVgXRQd5mZ2PyZDiYGIHgZvDlzihhUuWEqaRfafootluE82f09vDd4fuD48"
    "N42sRX6mZLNDNSuwP8YggHG3+NNhjnyTS0RWj9mbWikTNLqY2cqhg5I4xSVs5YUmvoJS8K"
    "y1nxoDhUIjG4oQUu8vTulFTQ2P6WyEIZy9v56afz0w8XOcPb2p50YVyrEKVDu9sSMTqy8X"
    "XrU/8cjxRfmFv/yImfn4PLw3BA/aF97krKoHwJZO3ilhKKHniCsy7Go0Ze96Mar/tR0euu"
    "vYx924AbeRmVULJfmr9bXOK0g1cxNojtvzUDUkQa+s5866USfWuv+qoyvaKW7dZSfX5w60"
    "CFZZCmZvNySHUESFcRIOV66BIDQLc6axjsUKG2JqEQSzTXVPBFAwcQAUF7INKFgEcBBHs+"
    "86FtL6LAw1fSbfM9wB5w4AKgLzPsIgCJBUxIwAQBF83pE7LeFB0+Xfeuw9QV3k2HNSqzTl"
    "6L8ntGTdJ7RtXZPaO8rhzMGLaCrpyl7EBXVswtsCOqcYltuqgbh6vgClzOUmouq8xlbfeq"
    "Xka13UvbvbTdqz9s0MaXbRpftKWgJ5aCD04QzD4osRPE94Z1VgLLCeOrGtoIbggCM96aEk"
    "AfuAZvcaXB9F47iDH+ikCEVYO9B8wZCp6niACumQcXMeMqvYVeFQ0D3XRZ6mB3wxDtJQ52"
    "2Uw72NW0FgjmtN6PU0R6J9YeqN2AvkYIihayNffqhikrqrGg6V6dmvXaA7UlD9TLCD5Bpm"
    "OJ1BOnQFaLPEmmpa6R8+2JE7qcW8oBMWoUrzeqidcb6So5y9bYUqvkJqrk8K3K9Vbx/WQI"
    "t2MufoGwdNWtw42cAohYK3n3ErIeugP6xGATzqBZWuiq2vicItEZXEU1li9vnl+SFtescl"
    "hCvcUtiYnMZt9GVsu9KSE8AfHXe2LjOToB4u894UuBuCs/RJ40/822bB9/zVvomkgS3RcX"
    "Y77jQLdkHlSn9aZI1kroVWw+bDtzVzueqwe9djxrx3PndtYp52Rr6FNEGvqVoX8R74Ji+4"
    "sSFm7t5u/czS9WCG3hXgZpah2tKAOZXy+254hRbKFY1w/Dnw+uf/n4sVllTZfN1y31d8u7"
    "6NHQ3eiZA6myiCV+lWzRxGrnSq5Ko66YoD0wRV92lQNmuTEmot2iKcaJo6ja2GHoM3+VEy"
    "A/7klY3o7yK/FXflX2zC8lT3hxq4vjC/3dJx622yr/OVKdXKCymfl/FJOVTDwZQm3hUYXp"
    "2sKj4B6oI+m0nUEtFuhaDjqSLqv2XVMPP2AThj+7oPhl7g/rVD+SatkimyBNJhIAKL8msB"
    "qC0JvEr5gyQ0CUC5DXIf98dQLGY/ltPAbinRl4nkIvuGmJCgJ7MC9Sb/p5QqSXSQtDAAmQ"
    "cYbfMeAiRwxNF/DW4mEy2gYI8Yg3k05ZwDgZf50huPdH+6PjV0PARHkEF/E3Fy/k8q8zGy"
    "6QFTxPPAh5TKZCBPMAyNHP/zKPyy/idznwif9q3gtDfGyKX4WqEyVixVn0XqNY8/Gr1Wo1"
    "1WrO7RL8q+Mao/Y9DGvsvq5CMC9aoBsT9BDejUSNakfcS+kmDP3ZDvWQQCO+KuJSMmg92N"
    "NUGvtVsefyKG2viqepNPbrYd/2lOIs1Ur7qWro54omN9hNj+pKJuf3Ug99KbHr1qS4hO17"
    "kHOREwQbSSoHNZLKga5HrY3nUtTkv2ylgltQV9vaBYeYhR8RW21a50g1n1Xms/bEqOKJ0W"
    "6DHXYb/Oyz6Sd/kv7pBddBoc2wzn0w460NlmretGoxsNAcm+g7Bn5FEyAeCtLdgD1hJZ+4"
    "9JkjyRshYs0ox1uWFcYeA09owUrKEnXY7/JiAZ9TEW3atq6cbT3ibRulKk3Tu8rFb/cbaV"
    "aiWXXw2X5Rt5qNjo6taRuYEwptaW9maefiUSuEo/Y9xPdt01FcN4i1fUDbB7ReofUKNViw"
    "43rFLZpRt7SyV3inVodwZZvGikMQeC9DdARdFA0UVR71qJTjw3Pq48B9NgTP2JuKyBoCZ2"
    "xKJaFQBiJCyDhhiUKx0efdk2fIggqpQffIAnsQ2HzougBZ2BNhRAGfgUURE4FQgD+BIdkX"
    "13UsxCdEXTXVoNukZOow8AUXw4WiIMukdoYOHFJWudmq/1+15fKFss534tDYLXpAN3BsbL"
    "RYFlGuKSCTolmrgoxqeG+7hMwOllyiM0QG7eCXNCdA/L0nHA1qz0UhpejbPbEwczBj4mL8"
    "NS8XvEyeH5eMSusz1oZhrFOaUTGX1qbxjcbASi7jDKl2J6rsTtTGnuop1l9jj86kfEHROV"
    "BC28eKZwk1C9ZgQbhBrXBQVpFWh9OuzAd9MooiJmedVNx5UrE+8WSdSlvlkKbst9o5Ugtr"
    "VlZoAm28rW0PXcU2webg5kWA1kXiNuqBEitGmf8pXElqvE+8xUarnsk3yntbtFdFSa9KdT"
    "r2cvvn9lOz4yHWxvopaE6ku/KeWM4JsJxVbJvvG5je3lda3t4XTp9xjCdUsghXGzYTik4M"
    "mwpF6W0kfMyGzDOEMXiOvcUKdq8yem3jVNnG2TZhc61UTdVExi0EDDKb80PIE0aJx6zaC5"
    "+l2p4yv7/ZfbuzY1+0ab4aam2a79Q0r9jm8w3axBTjQGcmsWodOCPyps5wz436FtXS0yfG"
    "79iCVoV3sezKmhjF58v2YzyW2AfXLbkfh+n2cQiliwcaDHke73FdwCh10kUWPwW99gnBTZ"
    "vryuCrsOBVIF1v1DMq2d4qyjxTedLmq5ENHqgrQ8DFU8AeofzLsyg0CW17PC5NSl2zt/LA"
    "7tC0WXqqgrYvKmlflBxf1cAYE2/RwsgHYVsDIyc5AfyPKHdKZEq4OCwh+HZPCB/qnEf87y"
    "pmxw2E/Gl3/EtFQujkO1W0Pp1810nynY6E6DwS4oW8yeIEsjJZNDyZrEbwjI4/69qbjCIV"
    "Vot7ai2rdeLe7iXUtGfJ4JFyRpwA+SHSWbEn0q1E9kzyXeUjy7XHoRr6/noc/Jm1ItezlJ"
    "rrqnC9xCtebkzefg1v5Tis9b3+Q1+j78XC5JraSVO/impMaKqepCe+PlGr1yVsJOolKl/E"
    "jWqVT/ygDah8WsNTZSEd1mh4yIFlZ+7WFJiMCHpXXfJg1Khs/6imbP+oWFoSMvZM+eSeQt"
    "auwmSeUGUdetVI4aOjJpHCR0fVkcLiXi4UGzNxaF3rAz/ydD3Eu/szPyaYtsE4bN67Ez82"
    "UkpIrrTGHLmYd7qKol/agQ56V0e9L1p1ApYFRzuUiEWU2giSOm4npDlGTzjtpmZZtGdvl7"
    "lnNzcfM3w9u8yJP9e/XJ1d3O69lQzljbBXodlbjjGjNjYrMniWm7ozHWw5gSodhtnG7s2V"
    "Q3choxmib/ck3V+QZBX9JyIfJtRaiNgH8alt36pv/btpBdW272+R61W274INsElkuli2mB"
    "FO8JJdtEWYbM9qY2Rld0iYgRnzuwDpDJI+46QBqgEIkzmXrDqccZeyw77ClSTOTPFMJ880"
    "SJ4xppStPbD65uvJ4NTZgLqKO+orVOkMhjXBSqd19BWu8gPSVses7Hi2PuIWprUZDrRKzN"
    "A6ty2PU1SfaUtYqWnDXAJVbVKYzgVsCmMU4rwGYmEcdR/hgeYUc7HLWT9rWYQenCa99RWw"
    "iU3Np4oifG3hOhN99RqoDsZU70DadFxQehJWhAjl5ml9tJCRXyO6ThaJItFSz9EpI7sRUA"
    "TFkF3JNp+l1LZ5VWzzTTwyqYlaGiFdd8BLnrKHgTfHhw0cn8eHlY5PcUvHoqsZi66jpjvP"
    "PYZZYWRNZPupguQBLq6jqkWnB2J7hfwZy/RLJM9Eh1heBGc8FiTjMQg1NDAeh9/GYxHGAj"
    "5cMfDgUkccReoMxZVMeRsTcnoLTBbyfrEszgb6r5WGw85LTj6N7gzT6dVaOFZOONbhSt+i"
    "cBwZiNrOvSydlth04uZuQK+F5W0Ky6m9X6Nah2p2OVVJOj5FLjanZaJxeKdWLoZJG2USOL"
    "8VeXLNsvHVkuIcuazlUckpkh6a0DaSKygmVQuEw+Y9RHcjJ0zwJ3qlJhxxdnuFmpOQ5HUc"
    "bHrgbyDKMe0g2jXgCjAyikyE6d7V6W95uM8/3pzlNRTRwVmZ2LXNzezr/wFXcq1g"
)
