from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "media" (
    "id" UUID NOT NULL PRIMARY KEY,
    "kind" VARCHAR(8) NOT NULL,
    "content_type" VARCHAR(64) NOT NULL,
    "size" BIGINT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "error" VARCHAR(300),
    "upload_key" VARCHAR(300) NOT NULL,
    "object_key" VARCHAR(300),
    "thumbnail_key" VARCHAR(300),
    "poster_key" VARCHAR(300),
    "width" INT,
    "height" INT,
    "duration_ms" INT,
    "blurhash" VARCHAR(100),
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "owner_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_media_owner_i_3d2f72" ON "media" ("owner_id", "status");
CREATE INDEX IF NOT EXISTS "idx_media_owner_i_04a7ae" ON "media" ("owner_id", "created_at");
COMMENT ON COLUMN "media"."kind" IS 'image: image\nvideo: video';
COMMENT ON COLUMN "media"."status" IS 'pending: pending\nprocessing: processing\nready: ready\nfailed: failed';
COMMENT ON TABLE "media" IS 'An uploaded image or video. The client PUTs the bytes straight to object storage (``upload_key``,';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "media";"""


MODELS_STATE = (
    "eJztXWlz2zYa/isYfakzo3gS+UhW3dkZO3G73sZ2x3G2nUYdCiJhCzUJqAQpR9vmvy8A3q"
    "dIipIpBl8sGsQLkg+u98ZfA4sayGSHZ/ocoyWyEHEGY/DXgEAL8Yu820MwgItFdFMUOHBm"
    "yvowqihvwBlzbKiLRu+hyRAvMhDTbbxwMCW8lLimKQqpziti8hAVuQT/6SLNoQ/ImSOb3/"
    "j8Oy/GxEBfEAv+XTxq9xiZRuKtdf5i4unyjuasFrL03RzaP8i64oEzTaema5F4/cXKmVMS"
    "EvA3EqUPiCAbOsiIfYR4R/+bgyLvfXmBY7sofFEjKjDQPXRNJ/bRMy0qG2ja9c2d9vHiTt"
    "MGNWDSKREQYwG4wMCCXzQTkQdnzv89Pf7qPSdCwqslHvjfs9t3/z67PTg9fiEeSHk/eZ14"
    "7d8ZyVtfZRPQgV4jEvkIagc7Zi2sQ4J2wA4KIrSjcbZzuF+/elUBb16rEHB5TyAeIRx/sx"
    "o4p8h6iPZRJbSPStA+8tAW68j9Y2x4i4IZ1B+foG1oiTtRt0Bxk2V75Nyn++GnW2TCAvj9"
    "ZfUTQ3Zqad2zHvkaDLug1F/uJKZ0RItAzd6yRla6BBL4ID9JPFs8yYftnenO8nYpWV66Pe"
    "m8xjPuS9jIGS/44ZI4+XPYq58aOzg7UPwNprub0oN4hZf/GI2Ojt6MXh2dvj05fvPm5O2r"
    "t7yufN/srTclc/v88sfL67vkrBYF5VuV/K2xggb1e7h07n6jukNfCgb5s21Ug8F2F8U8aO"
    "8ufpXj1mLsTzOO6MHV2a8SbGvl3/lwc/1jUD3WA+8+3JyngF9ihmfYxM4qf3hfENeS2F/y"
    "14RER5k+SLawwy5YuDMT6zU7wqcaA+93QhY2XvI34wXexaDJlDitMiNOiyfEaXo+6DYScG"
    "nQyXbLe37HwRYqkEcSlKnuMHzSw+BiH1cj/oHGDTFXAbtQMmMury4+3p1d/ZyYNu/P7i7E"
    "nVFiygSlB+luChsBv1ze/RuIf8FvN9cXEl7KnAdbPjGqd/fbQLwTdB2qEfqkQSO2ZwalAW"
    "q5vT5baXW3+wzp+p1/H/p6Z5t/ho/P65Vsl/xAbYQfyE9olVkki9n2PeyIIl6dF9vwKWRX"
    "s8OQI8C/GzkSg1s+QW4v33G8q0hJM0g2lJEEU38OSY/wTiwXmCyxg1rA6FI21FeYuITsax"
    "Sbo3Sx7JmMHQfIQtYM2WyOFxuidBU21FeobLSg9qaD6VY20luIKLU2BYg3UQEefwPqPDq1"
    "9FkxLSFnFTkgxVDeEHRH+Z9qi/xZ1FyPcK2p+gtAKNAAxjAqVwRqsc5Zqw8cnAFB8x0Dgu"
    "qlaNKWHQZs10Tse0AosOkTf2FK0CG4Q7bFq9oIcKGa1zQZOLCgo8+RATjNE7UNMKMuMaCN"
    "ERumBdbtPm1CdMjQy3tqGsh4MQSE7642WECH0xJ2OBhuZnwT0NYWfSKidoQepe8czEyqP3"
    "I+3hGjI9sd//l4c53fGRnCtAYC6w74m481trUNcPDPe5focsTPXGw6mI9L8bx/PYPOTgBV"
    "rrNLq+eGSa2CaCCtszMxedQsTDSPcdP4cqfldFLhhCmkbzR9OrZb+PNn9Pr4zfHbo9PjcN"
    "qEJWWzJZgZsd0BftGEgY2/Rh2M02QK2iy07sJoqORMUiolZ1eUnAFGMS1nyKlVtJJnmeUk"
    "e5AdKgEbXFEDF1h694orqKx/i3ihhObt3dnHd2fvL1KKt40t6UK5VsBK+3q3NWx0oONr16"
    "b+ORwprlC3/p5iPz97xUN/QP2ubO6d5EH5Esjq+S1FFD2wBCdNjCeVrO4nJVb3k6zVXVkZ"
    "+7YBV7IydkLIfu7+3eESpwy8HesGsf3X7oAYkYK+Ndt6Lkdf26relKfvqGa7NlefHtzKUW"
    "EdpLHZvB5S5QHSlgdIvhy6RgHQrszqOzsUiK2RK8QayTXmfFHBAESAVx+IcCHgUADBgctc"
    "aJqrwPHwhTTbfA+wAyy4AujLAtsIQGIAHRIwQ8BGS/qIjMOswaft1pWbeod302GJyKyC14"
    "L4nlGV8J5RcXTPKC0rezOGNZCVk5QtyModMwvsiWico5vOysb+Ktigl5OUqpe73MtK71W8"
    "jCq9l9J7Kb1Xf7pBKV92qXxRmoKeaAreW54z+yBHTxDeG5ZpCQzL96+qqCO4IQgseG1KAL"
    "3nErzBhQbdeWkhxvgrAuFWDQ7uMe9Q8DRHBHDJ3CvEjIv0BnqRVQy002Sugd32XbTXGNhl"
    "NWVg76a2QHRO7f04RqR2YmWB2g/oS5igYCHbcK+uGLLStS6oulfHZr2yQO3IAvU8jI8X6Z"
    "jD9YQhkMUsTxRpqXLkfHvshErnFjNAjCr5641K/PVGKkvOujU2Vyu5jSw5fKuynSa2nwTh"
    "btTFz+CW3nXtcCWjACJGI+teRNZDc0CfOliHC6jnJroqVj7HSFQEV1aM5cub4+aExVXLHB"
    "ZR73BLYiKy2TWRUXNvigjHILycEBMv0RiIvxPClwJxV/6IOGn+zaasH16mNXRVOIn2k4sx"
    "17KgnTMPisN6YyQbBfR2bD7sOnJXGZ6LB70yPCvDc+t61jnvydrQx4gU9I2hfxbrQsf2l0"
    "5ouJWZv3Uzv1ghlIZ7HaSxdbQgDWR6vdidIaZjC8Wmdhj+fHD96cOHapk1bbbcNNXfLW+i"
    "R0N3q2cOXCEDw0GOScW7MSwzqVhhlSpBJu7CpJBLnwBbwsGD2mCJDUQPwd0cAd3EiDjg50"
    "93THp6zFYOYkDi8DB3RNgInf2BuDTHHL67cPKD6dRrUHtEq+k0J9PYtp84IRAsOCPOVwD+"
    "iE+3H158D6ZTnVoLMfCnU8AFcf1RNm7JYJY5/+P/y1tf2FRHjPG3HYKnOdbn4B6bpvcuvF"
    "XnEFxTZ85vTwi9F6ExmL8dspf8WTN0z1ce/jAhlvBXqRgX83lAn4i3qPvaDV4hVhgT4+p5"
    "xXz6dPm+hhHLdbFxKGiazNH1tqxYii35JPHn+Dnya3lxHJ5sF5fa5KeXm6se+fc11VwFtF"
    "02XA3kjBx7E3NC5LQce7OziRrqbQUt1NtCJdTbTOoJShy+NnjQ5fZCUcRSkq7LPdDQdNjW"
    "wVsxhR/+Xw7IZXJYQKHk38by7x7qxheIGALImguNTzYG/oU4VCPYeMexTXhC5GY6BvJnQu"
    "4hlupx77cbunFk2zTHeal4QQoJGvVTx8SQLR2Slkz6F/B3dVBOUvVw0d8K1h53XRfrJJUa"
    "1pWgduauNSN8IauLdoZQAV4JcMHtI7su2kkqBXUlqJ+wwRvPoFzIPIb1e6TCb81lYo6E7q"
    "MGmhGBgjMLp+F6ye21vDTlhZimqBSwWWBnpmvPIcuZ98Wra5ymf2vrVg6+VB4hxej31yNE"
    "ZT7vW6/neKBmTkaSVoDaLhFxKqWOa8spIrTIKBN+mb05Pvi6FKUWO2ku164aP4euzLiaOP"
    "hOJaFXQW3Z8OCimLb1OvyAdocafCtMTFFHgS9n+RjInwnxTwyjvCS85KWyZV4UPeHZlfWW"
    "K1ghlzjYrMtHpUhVvrbu8E1ZdvkPikkjbjlBqJjlrnS6cprv4B6okpN0T0pRrtutu26r5C"
    "R7nJzkmjr4HuvQ/+yM4Je4PywT/UisZo0EbXEykVON8jKB1RD46lheosukayIDuyyH/PfF"
    "WLitiqvpFIh3ZuBpDh3vpiE8Tw9gmqXe9vMESy/zwA0BJECmbvmOARtZYmjagNcWD5MJDI"
    "Bgj3g1GecKmPDmoWQIJu7o1ej0xRAwkXHeRvzNxQvZ/HJhwhUyvOeJByHH87r15gGQo5//"
    "ZQ7nX8R3WfCRfzVvhSE+NsVXoeLcc6HgLFovEaz5+FVidTfF6mLn23z098HhtqnJvvVU9d"
    "68qIFuSNBDeLeSiEfFNj6bVy36sx7qPoFCvCnikjOoPdjjVAr7pthzfpTWF8XjVAr7zbCX"
    "/9XYSpNU/XOCOal2DG3JKbQZz1n0JUevW+Iw69fvQRq7HfhuKv+iYvT7qzwXX9boDCOoDj"
    "DaB4OYgR8QazatU6Sqn7vcz8oS0xVLjDIb7LHZ4GeXzT+6s/inZ0wHmTrDMvPBgtfWWKx6"
    "1YNggYGWWEffMfALmgHxUBBvBhzIPBk2feJI8kqIGAvK8ZbJLbDDwCNasZyTXlpst0qSi8"
    "ijTenWO6dbD/q2jlAVp+ndYbCvX1WN3CgN3ciGII5OTo1aATIRhdK0V9O0c/aoFsJB/R7i"
    "q+KPlH4gUW+D+CMlVyi5ogNdsOdyxS1aUNsZ5EgT/p1SGcKWdSoLDp7jvXTREXSBN1BwmK"
    "NDJR8vfOF4ndBxnw3BE3bmwrOGwAWbU0kohIGAEDJOmCNQbPV5E/IEmXfopNc8MsABBCYf"
    "ujZABnaEG5HXz8CgiAlHKMCfwJBsC4k0ZnxClB1Q6TUbnUI59GzBWXehwMkySrmkHIc6K9"
    "zs1P7fteXymRJ5I8jyDpwqZsIjih6y4SeV2PCTEjb8JMuGB4tlFuWSMzliNBsdytE1vEvg"
    "3cqpHHuYqY8uEBnUg1/SjIH4KxLxMWouRfK94GpCDMwszJgoDC/TfMHzxPlBPf/Iu1I3jE"
    "1Ou+uYSWvb+AZjoJHJOEGqzIldNicqZU/xFOuvskdFUj4j6+wJofV9xZOEqgs26AJ/g5qt"
    "GvRCmla50zbuh+cImfh2p4AKKt5lUPFuzy7aV0iLDi/KhzSmv1XGkVJYk7xCFWjDbW136H"
    "ZsE6wObpoFqH3u1lYtUGLFyLM/+StJifWJ19hq1jP5Rmlri7KqdNKqsl9nIYVDrI72U9CM"
    "pblyQgxrDAyriW6z5VOQDKtuAvuIohXFZoe89LbiPmZC5mhCGbzEzqqB3iuPXuk4u6zjrB"
    "uwuVGoZtdYxh04DDKT94fgJ7Q6CfdTVLsT5l9td99uLd2+Us0XQ61U862q5ju2+XyDOrGO"
    "9UBrKrFiGTjB8vppt3NGfY0DqN9bV2Em4j1b0IrwzqZd2RCjC9FGf8Zjjn5w01PMQzfdPg"
    "6hePJAjSHH4S1uChilVjzJ4kev1T4huG11XR58BRq8AqTLlXpaYbfX8jJPZJ40+Wpkgntq"
    "Sxdw8RRwQCi/eBKJJqFpTqe5Qakbtpbv2O2rNnNPVVD6xU7qF2WPN1UwhsQ71DDyQVhXwc"
    "hJxoD/EelOiQwJF4cleFcTQvhQ533E/zZRO27B5U+Z45/LE0IF33VF6lPBd60E3ylPiNY9"
    "IZ7JmsyWuedpyfJyxpPX2Io1GQUirGL3urWslrF7+xdQU79LBg+Ud8QYyB8RzoodEW4lom"
    "ei6wnRxSeapigOL7vBASqLQzH0/bU4qJNn+9brOVbxfGXy7nN4d66HlbzXf+hL5L2QmdxQ"
    "OqlqV+laJ1QVT+ITX52o1esUNhL1HJEv6I1ikU980BZEPiXhdWUhHZZIeMiCeWfuliSYDA"
    "h6l13yaFQpbf+oJG3/KJtaEjL2RPnknkNWL8NkmrDLMnRTT+GTkyqewicnxZ7C4l7KFRsz"
    "cWhd7QM/0nQ9xLv9Mz9mmNbB2K/euxM/tpJKSK602hLZmDfaRNDPbUA5vXdHvM9qdbwu84"
    "52yGGLKDURJGW9HZGmOnrGabc1y4I9e7ede35z8yHRr+eXKfbn+tPV+cXtwWvZobwSdgok"
    "e8PSFtTEekEEz3pVd6KBHQdQxd0w6+i9uXBor6Q3Q3A1IfH2vCCr4D/h+TCjxkr4Pohfpf"
    "vu+ta/n1pQpfv+Fnu9SPed0QFW8UwXyxbT/Ames4vWcJPtWW6MJO8OCdMwY24bIJ1D0mec"
    "FEAlAGGy5JxVizPuUjbYV7iiwJk5XqjgmQrBM9qcso0HVt9sPQmcLGRguBk+V0ET/cSnpQ"
    "l3FTbUV6jiER4bghUPe+krXPkHyDXHLO/4uj7i5of9aRY0ctT0KvYvjVOQv2pHWHVTx7sG"
    "qtKgORUrWRXGwAV8A8R8P/M+wgP1OeZsqbV5VLdwzTiLWusrYDOT6o8FSQrrwnUu2uo1UC"
    "2Mqd6BtG2/qfgkLHChSs3Tcm8qLb1GtB1ME3jqxZ6jQmr2w+EKiiHbyHaRpFS2i67YLqpY"
    "rGITNdeDvOwAnDRlDx2TTo8rGIZPjwsNw+KW8tXvpq++8ipvPTYbJpmRDZHtpwiSBji7jn"
    "bNe99j2wv4z5CnX8N5RjLE+iRB06kgmU6BL6GB6dS/mk6Fmw94f8XAvU0tcVSrNRQlifQ/"
    "OuT0Bpit5P1s2qAttF/KDfuN55wMG9wZxsPPFXPcOeZYuXN9i8xxoCCqO/eSdIpjU4Gt+w"
    "G9YpZ3ySzH9n6FahmqyeW0S9zxGbKxPs9jjf07pXwxjOp0JsD1W+EnN0yrX8wpLpHNah4l"
    "HSPpoQptK7GUYlLVQNiv3kN0t3ICB3+ik6vCEWfbF4g5EUlaxsG6A/4GIl3VHqJdAq4AIy"
    "HIBJgeXJ39mob73Yeb87SEIho4z2O7drmZff0/l89xcg=="
)
