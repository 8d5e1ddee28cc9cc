from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "notifications" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(32) NOT NULL,
    "cause" VARCHAR(200) NOT NULL,
    "room_id" BIGINT,
    "seq" BIGINT,
    "event_id" BIGINT,
    "actor_id" BIGINT,
    "actor_name" VARCHAR(50),
    "text" VARCHAR(300) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "read_at" TIMESTAMPTZ,
    "digested_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_notificatio_user_id_76ef59" UNIQUE ("user_id", "cause")
);
CREATE INDEX IF NOT EXISTS "idx_notificatio_user_id_bf5d2b" ON "notifications" ("user_id", "id");
COMMENT ON TABLE "notifications" IS 'One notification of one user, created once per (user, cause): ``cause`` names what caused it (a';
        CREATE TABLE IF NOT EXISTS "push_subscriptions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "endpoint" VARCHAR(1000) NOT NULL UNIQUE,
    "p256dh" VARCHAR(200) NOT NULL,
    "auth" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_push_subscr_user_id_b78db4" ON "push_subscriptions" ("user_id");
COMMENT ON TABLE "push_subscriptions" IS 'A device''s Web Push subscription (the browser''s endpoint and its keys).';
        CREATE TABLE IF NOT EXISTS "room_notification_settings" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "level" VARCHAR(16) NOT NULL,
    "room_id" BIGINT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_room_notifi_room_id_bc807a" UNIQUE ("room_id", "user_id")
);
COMMENT ON COLUMN "room_notification_settings"."level" IS 'all: all\nmentions: mentions\nnone: none';
COMMENT ON TABLE "room_notification_settings" IS 'A member''s notification level for one room (no row: ``all``).';
        CREATE TABLE IF NOT EXISTS "user_blocks" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "blocked_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_user_blocks_user_id_b44be0" UNIQUE ("user_id", "blocked_id")
);
CREATE INDEX IF NOT EXISTS "idx_user_blocks_blocked_c27ef6" ON "user_blocks" ("blocked_id", "user_id");
COMMENT ON TABLE "user_blocks" IS '``user`` blocked ``blocked``: no DMs from them, no notification caused by them.';
        COMMENT ON COLUMN "events"."status" IS 'scheduled: scheduled\nlive: live\nended: ended\ncancelled: cancelled';
        ALTER TABLE "users" ADD "email_digest" BOOL NOT NULL DEFAULT True;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "users" DROP COLUMN "email_digest";
        COMMENT ON COLUMN "events"."status" IS 'scheduled: scheduled\nlive: live\nended: ended';
        DROP TABLE IF EXISTS "room_notification_settings";
        DROP TABLE IF EXISTS "notifications";
        DROP TABLE IF EXISTS "push_subscriptions";
        DROP TABLE IF EXISTS "user_blocks";"""


MODELS_STATE = (
    "eJztXVtz27YS/isYvcSZ0ck4siXnuE+S47RubatjO22mcYeCSFjCMQkqBClH0+a/HwAkxT"
    "tFSpRE0XixaAALgt/isrvYBf5pGaaGdPqur04xmiMDEbt1Dv5pEWgg9pCW3QYtOJsFmTzB"
    "hmNdlIdBQZEBx9S2oMorfYI6RSxJQ1S18MzGJmGpxNF1nmiqrCAmkyDJIfibgxTbnCB7ii"
    "yW8fVvloyJhr4j6v87e1aeMNK1SKtV1jD+dpGj2IuZSL2YQuuTKMtfOFZUU3cMEi4/W9hT"
    "kywJWIt46gQRZEEbaaGP4G30vtlPctvLEmzLQcuGakGChp6go9uhjx4rQVpLUW6HD8r95Y"
    "OitErApJqEQ4w54BwDA35XdEQm9pT92zv94b4nQMItxV/4R//u4pf+3VHv9C1/ocn45DLx"
    "1svpiKwfogpoQ7cSgXwAtY1tvRTWS4JqwPYTArSDfrZzuN8fHxfAm5XKBFzkccQDhMMtK4"
    "FzjKyBaJ8UQvskB+0TF20+jzw9h7o3TxhD9fkFWpoSyQnYAnkmTXJk4NF9+u0O6TADfm9a"
    "/UyRFZtaD4wjP/xu56d6053A1OyYWaAms4yOEU+BBE7EJ/F38zd5sF3ozjhtlRLpucuTyk"
    "rscV3CWkp/wZMrYqePYbd8rO/gZEfxFpj6LkoT3oT//LfTOTk56xyf9D50T8/Ouh+OP7Cy"
    "or3JrLOcsT24+vnq9iE6qnlC/lIlfkvMoH75Bk6du1+oHtD3jE6+t4Wq1drupJgG7cPlF9"
    "FvDUq/6WFEj276XwTYxsLLuR7e/uwXD3Hg4no4iAE/xxSPsY7tRXr3viSOIbC/Ys2EREUJ"
    "HkRr2CELZs5Yx2pJRnhU58D9fSQzC89Zy1iC+9BaZ0j0ioyIXvaA6MXHg2ohDpcC7SRbPr"
    "IcGxsoQx+JUMbYoXmk7/yHQ5yN2AdqQ6IvfHEhZ8Rc3VzeP/Rvfo8Mm4/9h0ue04kMGT/1"
    "KM6mZSXgz6uHXwD/F/w1vL0U8JrUnljijUG5h79avE3QsU2FmC8K1EJrpp/qo5bK9fFCKb"
    "vcJ0hXr/yHwOudLf4JOT6NK0mWfDIthCfkN7RITJLZYvsBMiJLVmfJFnxZiqvJbsgQYN+N"
    "bIHBHRsgd1cXDO8iWtIYkg11JC7UDyBpEN6R6QKTObZRBRhdiYqaChPTkD2L4vooXc4bpm"
    "OHATKQMUYWneLZhijdLCtqKlSWaRobgnTHqmgSPNu21vAJPMNg483t+TYbxV9HqrXbfBWV"
    "83odvqT/HbPjfHWT224b3Gxp16mdXYeJK7ScbTygaIC1IarGdgtZdro5lp1u0rIjNdls9B"
    "usyfKJt7QOGxBJ7bXkFCeNCDVjA1/+SzMgRCShr8x+48lpG1pu/B3CA2NBYctNMPlGbDYX"
    "/fuL/sfLVqJzS2PYKkhDo3k1pNLKWJWVcQlvtpFx2zqrZ1DLUFsDc9sKzTVk4FupvLb6BL"
    "jlAXdJA7YJIDhyqAN1feFvbr0FvN6fALaBARcAfZ9hCwFINKBCAsYIWGhuPiPtXXwXrPra"
    "pStEjVfTdo7KLB0kfR+yThEXsk62B1knriu7I4auoStHKSvQlT1Ya7Yy1F019jHJ1Y29WX"
    "ANLkcpJZfrzGVp98qeRqXdS9q9pN2rOWyQxpddGl+kpaAhlgLXqSTFSLD0Nsm2DwROLTIc"
    "4fXp4DJyLqSHdwptW3dytq07MiBh1Uy7s4AEtmBZ9jomkAjhbrSmXU48B6IkFdKNEdHWMn"
    "IFZA3UipvEYBXOoJoaU5Stg4VI1lK/ambL8gSFzvvTs9MPJ73TpXywTMkTC5LqLZvebCfF"
    "9bRYkFZAvcMliapTpDk60kquTQHhOVg+PhIdz9E54H8fCZsKeK74eSQq/2ZdlF8+xnewik"
    "gS1cdxUccwoJUyDn69H95mrGMBSXyWw6oN/mUI0AMcDznIcizy5Yi4yBCbsngFcTlC2l+z"
    "O720v0r7a+X21ynjZGnoQ0QS+rWh51EppaEPETVI3pLW7r0v8dVau/kMIe3cqyANzaMZEb"
    "fx+aICTAtGstVsoigKaWh+jEDK3g9uP19fFwtituh806jKO1ZFg7ruVgMGQxGoKfsq0fjU"
    "7M2VWECsDByUOzCJcW1mbcCsNsb4tDs0xbg9uqwdxnxhTTkH4ueR8IHCGmaylOUjSxU1s6"
    "TgDXu3uhgO198dYmO9rPIfI5U+dnU2M//PxGQtE0+EUFp46sJ0aeGp4RooQxqlnaFeLJAh"
    "jfUNadyPJ92taeMnrELvsxOKXyS/naf6kVDJgoF3Q4JAmAyYT8BkaRyrNvB2k1iKisAMWT"
    "xqTqRD9vv2HIxG4mk0ArzNFLxMoe1majyQ7gjGReptv4+L9JQynNsAEiD8DN9QYCGDd00L"
    "sNL8ZcLbBnDxiBUTm7KAMjLWnDZ4dDrHnd7bNqA8StBCrOW8QRZ7nOlwgTT3ffxFyKaAKc"
    "bAHQdA9H72l9pMfuHfZcBn9tWsFopY3+RfhbKiB0OKM689R7Fm/Veq1fVUqxm3U/DP9mv0"
    "yzfQrbH68EJ3XJRAd0nQQHi34jUqN+L2pZtQ9K0c6h6BRHxdxIVkULqzh6kk9utiz+RRs7"
    "wqHqaS2G+GfdkLIaJUa62ndUM/dnZggdW0m3dyYHwttdH3FLtuToiLV74BMRdbuqtIukcW"
    "Q7+5xnP+ZWudOwHloROHsCGm4Qmi6w3rGKnkc535LHdi6rITI7cNDnjb4HeHTu+dcfjTE1"
    "sHiTLtvO2DGSut0FDxoof3AQ3NsYreUPAnGgP+UhCuBhxxK/nYMl8YkqwQItrMZHiL0/Ww"
    "TcEzWtC3Kcf2VVfv6sMCvoY82qRtvXa2dZ+3ZZSqME3jDvB7f1z0KsPcuwwTutWs0+1p0z"
    "IwBxTS0l7M0s7Eo1II++UbiO9WLuSU9oFs9JtrH5B6hdQr6sCCA9crRGBUii7hB0xl6w/L"
    "+8W2FXMiWhR3jZECey0Fdnnp+HZlHKqzxZEPQiUlQi/bcSBKtbsl73i7nb2yk2qk6PgaRU"
    "cZl1EX0VEGB1QSHFAkunuXVwvXczst/7rcsJu6QpFtsxoruD437M5/79baoJ661QD5LPgy"
    "tJUMpPMVGCWT7UU2QtxA4jc0GuOgs6GmgyfTEtEH/C3giJjs4YWHNEBdH41Stz82rC1Vl/"
    "KPz0iN35e6VC11KcHxdGVqdcD+kniHvmWsE7bKcYSTnAP2hwfWELH5yMPy3adHQlhXZzxi"
    "f+PDpJACVnmQ/l585eu2BshA3lcAvTTzbtvMu7/DrQ4V0qzTrfZtOednXaXJot4ZWDmCp3"
    "/QVtWWc+TrZ1Lcq9e0mifuHd5p2eVZ0pqYjBHnQPw8kheIbX40ND8FO3iu8+HY0lCcDX1z"
    "DcXOTFuT61FKyfW6cD3FZT1hCdxTtGjtOCz1veZDn6PvLYXJDbWTopsGdWNCUfUkPPDl2U"
    "2NdpYSqKeofD43slU+/kHyCsRXquEhA6ad7poTyuATNC6O4aRTKEC8kxMg3kkGMUBKX0w2"
    "uKeQlotliBPWWYdeN6Sh2y0S0tDtZoc08LzYlZOY8uPRSh8tEadrIN7Vny4xxmYZjL3ijT"
    "tbolvIr7Kb41fZTfpViplWmSMLs0rXUfRTK5AR6fVR75NWHZdl7iECKWKRaeoIkjxuB6Qx"
    "Ro8Z7bZGmb9m75a5g+HwOsLXwVX8YtzPN4PLu6P3gqGsELYzNHtpQs2e6A7TmCZNqK+R61"
    "km1IQpqYhXKndtpYo3wFMm4xLelg1zAo6KgJBQBVPqVAHSAJIm4yQBygEIkzlboCsccVei"
    "wqbC5TrNK/zKuk3BapoZPIJT7Bay9VGKXnvWRKgSp/avD1b8qoAmwpV+StH6mKWdkdRE3P"
    "KDG2RMS1EY5Z2YefBAdYrZGmlsHlrGt9D6QW1NBWysm+ozU2rHi83hGvC6Gg1UBX2qcSBt"
    "e387PAgztrpj4zR/11uJzxFVOz37HhWh90jX58PYGIe8y65lHIxSSuNgXYyDRUzCoYGa6u"
    "mXdzNBnLKBG8i90wLbnL3TzF1OniV9KuvpUym9/yqPoYNRYWRDZJupgsQBTs6jdfOydMX2"
    "DPlzKdOvkDwDHWL1YQ6jEScZjYCnoYHRyHsajVgLTfDxhoInyzT4HZBGm6dEjmnwrqUcL0"
    "R+8niHLdSfKw17ladcLenntIE8A3vfS0WecCz9JV6jcOwbiMqOvSidlNhkANJhQC+F5V0K"
    "y6G1X6Kah2p0Oq2TdNxHFlanaaKxl5MrF8OgTG0CkV6LPLnhqbXZkuIcWdTbCClqSQuRNN"
    "CEtpWYFz6oSiDsFW8gutu5xMMkdqoJ59f74W2GmhOQxHUcrNrgX8CPFTlAtHPA5WBEFBkf"
    "06Ob/pc43BfXw0FcQ+EVDNLErl0uZj/+D3QR5JQ="
)
