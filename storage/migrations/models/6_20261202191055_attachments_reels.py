from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "reels" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "caption" VARCHAR(500) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "deleted_at" TIMESTAMPTZ,
    "author_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "club_id" BIGINT NOT NULL REFERENCES "clubs" ("id") ON DELETE CASCADE,
    "media_id" UUID NOT NULL UNIQUE REFERENCES "media" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_reels_club_id_a2e798" ON "reels" ("club_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_reels_created_8cc583" ON "reels" ("created_at");
COMMENT ON TABLE "reels" IS 'A club''s short video: a ready video ``Media`` of its author, a member, with a caption. It is an';
        ALTER TABLE "media" ADD "client_id" VARCHAR(64);
        ALTER TABLE "media" ADD "seq" BIGINT;
        ALTER TABLE "media" ADD "room_id" BIGINT;
        ALTER TABLE "media" ADD CONSTRAINT "fk_media_rooms_68c06c52" FOREIGN KEY ("room_id") REFERENCES "rooms" ("id") ON DELETE SET NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "media" DROP CONSTRAINT IF EXISTS "fk_media_rooms_68c06c52";
        ALTER TABLE "media" DROP COLUMN "client_id";
        ALTER TABLE "media" DROP COLUMN "seq";
        ALTER TABLE "media" DROP COLUMN "room_id";
        DROP TABLE IF EXISTS "reels";"""


MODELS_STATE = (
    "eJztXdty2zYafhWMburMqJ5EsR2vs7MzduK2bmO74zjbTqMOBZGwhZoEVIKUo2377guA56"
    "NIipIoBjcWDeIHyQ+n/4y/BhY1kMkOz/UZRgtkIeIMzsBfAwItxC/ybg/BAM7n0U1R4MCp"
    "KevDqKK8AafMsaEuGn2AJkO8yEBMt/HcwZTwUuKapiikOq+IyWNU5BL8p4s0hz4iZ4Zsfu"
    "Pz77wYEwN9QSz4d/6kPWBkGom31vmLiafLO5qznMvSdzNofyfrigdONZ2arkXi9edLZ0ZJ"
    "SMDfSJQ+IoJs6CAj9hHiHf1vDoq89+UFju2i8EWNqMBAD9A1ndhHT7WobKBpN7f32sfLe0"
    "0b1IBJp0RAjAXgAgMLftFMRB6dGf/35Ogf7zkREl4t8cD/nt+9++H87uDk6IV4IOX95HXi"
    "jX9nJG/9I5uADvQakchHUDvYMWthHRK0A3ZQEKEdjbOtw/3q5csKePNahYDLewLxCOH4m9"
    "XAOUXWQ7RfV0L7dQnarz20xTry8BQb3qJgCvWnZ2gbWuJO1C1Q3GTZHrnw6b776Q6ZsAB+"
    "f1n9xJCdWlr3rEf+CYZdUOovdxJTOqJFoGZvWSMrXQIJfJSfJJ4tnuTD9s50p3m7lCwv3Z"
    "50XmOH+xI2csYLfrwiTv4c9uqnxg7ODhR/g+nupvQoXuHbf41Gr1+/Gb18fXJ6fPTmzfHp"
    "y1NeV75v9tabkrl9cfX91c19claLgvKtSv7WWEGD+j1cOre/Ud2jLwWDfGcb1WCw2UUxD9"
    "r7y1/luLUY+9OMI3pwff6rBNta+nc+3N58H1SP9cC7D7cXKeAXmOEpNrGzzB/el8S1JPZX"
    "/DUh0VGmD5ItbLEL5u7UxHrNjvCpzoD3OyZzGy/4m/EC72LQZEqcVJkRJ8UT4iQ9H3QbCb"
    "g06GS75T2/42ALFcgjCcpUdxg+6WFwsY+rEf9A45aYy4BdKJkxV9eXH+/Pr39OTJv35/eX"
    "4s4oMWWC0oN0N4WNgF+u7n8A4l/w2+3NpYSXMufRlk+M6t3/NhDvBF2HaoQ+a9CI7ZlBaY"
    "Babq9Pl1rd7T5Dunrn34e+3trmn+Hj83ol2yXfURvhR/ITWmYWyWK2fQ87oohX58U2fA7Z"
    "1eww5Ajw70aOxOCOT5C7q3cc7ypS0hSSNWUkwdRfQNIjvBPLBSYL7KAWMLqSDfUVJi4h+x"
    "rF5ihdLnomY8cBspA1RTab4fmaKF2HDfUVKhv5aoHmIN3xJvoLz5za6861O9lIbyGi1FoX"
    "IN5EBXj8/bnz6NRS98WUqJyT5oAUQ3lL0D3lf6rtgedRcz3CtaZmNAChQEEaw6hcT6rFOm"
    "elunRwDgTNNwwIqm9Fk7bsMGC7JmJvAaHAps/8hSlBh+Ae2RavaiNgcqbF5k2CAws6+gwZ"
    "gNM8U9sAU+oSA9oYsWFant/s08ZEhwx9+0BNAxkvhoBw5sMGc+hwWsIOB8P1bJMC2tqSYU"
    "TUjkyo1MGDqUn1Jy7mOGJ0ZLvjx4+3N/mdkSFMK2iw7oC/+VhjG9sAB/9+cIkuR/zUxaaD"
    "+bgUz/vPDlSaAqhylWZaezlMKl1EA2mVponJk2Zhonl8rcaXOy2nkwonTCF9o+nTsd3Cnz"
    "+jV0dvjk5fnxyF0yYsKZstwcyI7Q7wiybsj/w16mCcJlPQZqF150ZDHXCSUumAu6IDDjCK"
    "KYFDTq2iE0GWWU6yB9mhErDBFRWUgSF8r7iCyurJiBdKKCbfnX98d/7+MqWXXNvRQOgeC1"
    "hpXy25go0OVKDtuhx8DkeKK7TRv6fYz89e8dAfUL8rl4RO8qB8CWT13Loiih4YypMW2ONK"
    "TgnHJU4Jx1mnBGWE7dsGXMkI2wkhe9f9u8UlTtm/O9YNYvuv3QExIgV9a64HuRx9baeDpj"
    "x9RzXbtbn69OBuAdKe+3HEZvNqSJWDTFsOMvly6AoFQLsyq+8LUiC2Rp4iKyTXmG9KBQMQ"
    "AV59IKKpgEMBBAcuc6FpLgO/zBfSbPMWYAdYcAnQlzm2EYDEADokYIqAjRb0CRmHWYNP26"
    "0rL/4O76bDEpFZxfYF4U+jKtFPo+Lgp1FaVvZmDGsgKycpW5CVO2YW2BPROEc3nZWN/VWw"
    "QS8nKVUvd7mXld6reBlVei+l91J6r/50g1K+bFP5ojQFPdEUvLc8X/9Bjp4gvDcs0xIYlu"
    "9fVVFHcEsQmPPalAD6wCV4gwsNuvOthRjjrwiEWzU4eMC8Q8HzDBHAJXOvEDMu0hvoRVYx"
    "0E6TuQZ223fRXmFgl9WUgb2b2gLRObX34xiR2omVBWo/oC9hgoKFbM29umLISte6oOpeHZ"
    "v1ygK1JQvUbhgfLxA0h+sJI0SLWZ4oEFWlEPr62AmV7S5mgBhV8tcblfjrjVQSoVVrbK5W"
    "chNJhPhWZTtNbD8Jwu2oi3fglt517XAlowAiRiPrXkTWQ3NAnzpYh3Oo5+YBK1Y+x0hUBF"
    "dWjOXLm+PmhMVVS6wWUW9xS2Iistk1kVFzb4oIz0B4OSYmXqAzIP6OCV8KxF35I+Kk+Teb"
    "sn54mdbQVeEk2s+9xlzLgnbOPCgO642RrBXQ27H5sO3IXWV4Lh70yvCsDM+t61lnvCdrQx"
    "8jUtA3hn4n1oWO7S+d0HArM3/rZn6xQigN9ypIY+toQZbM9HqxPUNMxxaKde0w/Png5tOH"
    "D9USj9pssW4mxDveRI+G7kaPZLhGBoaDHJOKd2NYZlKxwipVgkzcuUkhlz4BtoSDB7XBAh"
    "uIHoL7GQK6iRFxwM+f7pn09JguHcSAxOFx5oiwETr9A3Fpjjl8d+HkB5OJ16D2hJaTSU6m"
    "sU0/cUwgmHNGnK8A/BGf7j68eAsmE51aczHwJxPABXH9STZuyWCWGf/j/8tbn9tUR4zxtx"
    "2C5xnWZ+ABm6b3LrxV5xDcUGfGb48JfRChMZi/HbIX/FlT9MBXHv4wIZbwV6kYF/N5QJ+J"
    "t6j72g1eIVYYE+PqecV8+nT1voYRy3WxcShomszR1basWIot+STx52gX+bW8OA5PtotLbf"
    "LTy81VT/z7mmquAtouG64GckaeeRNzTOS0PPNmZxM11GkFLdRpoRLqNJN6ghKHrw0edLm9"
    "UBSxlKTrcg80NB22dS5ZTOGH/5cDcpkcFlAo+bex/LuHuvE5IoYAsuZC45OdAf9CnDkSbL"
    "xnsU14TORmegbkz5g8QCzV495vN3TjyLZpjvNS8YIUEjTqp46JIRs6Qy6Z9C/g7+qgnKTq"
    "4aK/Eaw97rou1kkqNawrQe3MXGtK+EJWF+0MoQK8EuCC20d2XbSTVArqSlA/Y4M3nkG5kH"
    "kM6/dIhd+ay8QMCd1HDTQjAgVnFk7D9ZLba3lpygsxTVEpYLPATk3XnkGWM++LV9c4Tf/W"
    "1o2cC+qpSHPtpCVKkDhR/4DegAIE/VlT/+ER9Ghh2FHEv/J0+po8nVRG/771eo5ndebEL2"
    "ndqu3qE6dSamblZrUXyJe4WYU2XuUUVObBEp/2qx2tlFPQhp2Cavm9JI8JzVlyah9MWPGs"
    "0D3pmLonEsaOk831DoofNlvmIpQ43VYdpVLbnaUXW9MQlGV6KYrMXm2JDmi3aIe2wvRKdc"
    "zQcmc5A/JnTPxzLykvCS95qWyZF0VP2LnJ2XKF4OMSB+csqeVSU4pUZR3tjpSUFY7/oJg0"
    "ko0ThEo07kqnq9CvDu6BKsVW9yRjFYDUegCSSrFVBdKOpti6oQ5+wDr0Pzsj+CXuD8tEPx"
    "KrWSPNaJxMZAalvExgNQS+8YWX6DJ1qDhHRJZD/vviTARfiKvJBIh3ZuB5Bh3vpiHiJw5g"
    "mqXe9PMESy+zmQ4BJEAmIPuGARtZYmjagNcWD5NpeIBgj3g1ma0BMOGTSskQjN3Ry9HJiy"
    "Fg4twUG/E3Fy9k88u5CZfI8J4nHoQcL3bEmwdAjn7+lzmcfxHfZcEn/tW8FYb42BRfhYoz"
    "qIaCs2i9RLDm41eJ1d0Uq4tDSPLR34ewkaaOZ60fuOLNixrohgQ9hHcj6eSU6WhnsSHKH2"
    "XLiEvOoPZgj1Mp7Jtiz/lRWl8Uj1Mp7NfDXv5XYytNUvXPw/C42mHqJWepZ+I/0JccvW5J"
    "2IdfvwfJWLcQgaC8CYvR76/yXHxZo5P4oDqGbx8MYgZ+RKzZtE6Rqn7ucj8rS0xXLDHKbL"
    "DHZoOfXTb76E7jn54xHWTqDMvMB3NeW2Ox6lWPMwcGWmAdfcPAL2gKxENBvBlwILM92fSZ"
    "I8krIWLMKcdbpmjCDgNPaMlyzitrsd0qqZoijzalW++cbj3o2zpCVZymd0eav3pZNf6wNA"
    "AxG0g/Oj4xaoV5RhRK015N087Zo1oIB/V7iO9momiVfuAr1A8ouULJFV3ogj2XK2QMTo4s"
    "EcTmFMsPIgqossgg/Ns4z85m1HaAn40SeqngvH/BZCIT4k4mQGZjZUBsg9QWLjuev/4QPG"
    "Nnxv/VoWz4EFzJnK2Q5IgSG33emGAHWYJOSCQPCBkid60YziK7HTInkxdvwfOMAgsuAUPI"
    "Ty6bLGHyHSuLK4EbZTyHrEgu2zinrBJmtiXM+OOnDgsYI+mdjei4Eg94XMIDHiseUPGAsn"
    "vkLtrIhJCgVBaELlsQvI25vgtJnExx+42dSFQU086gl+c/5GJffCJAnGa75wLsZjlbcQiA"
    "ikzaZmSSt+YqZcAqUBN70/rqgNSKkcU/yMlREf3waJp9XCRWgh9fIStgv6Z6ZU5tZ5CrYJ"
    "F3huUqFlGnspLF01vICChBFwRb+TFS4kycQO3A64R5EVio6GAEztmMOoFmIyCEjBPmKFk2"
    "+rwxeYZCZ4KI37zQskBg8tFoA96DjojS8voOGBQxEWcG+BMYkm0hoeXhg7zQIPzZR9dbZ4"
    "JUQ8LVPhuNFewU0bkMKi6rs+qWrYZXdG0D2lEaOgRZPQVXRNFDK+dGNFzBYplFueTg7hjN"
    "Wid3dw3vEng3cnT3Hh7nQ+eI1FToSpozIP6K03oYNRfihJ7gakwMzCzMmCgML9N8QSU3gN"
    "bTKEG9roo9ouhfhEv7+AZjoJFHfoJU6Vq7rGtVdpTiKdZfO4pS8e6QdfaE0Pqh+ElC1QVr"
    "dIG/QU2XDXohTauilRv3wy4yUny9U0BZRrZpGdluLvN9hbQomXk+pDH9rTI3lcKa5BWqQB"
    "tua9tDt2ObYHVw0yzAZvPw17VAiRUjz/7kryQl1ideY6NJ5eUbpa0tyqrSSatKcba71frP"
    "7We+C4dYHe2noDmT5soxMawzYFhNdJunFVRvp4Wat9O04s2w6p5yG1G0otjsUBDkRqLzTM"
    "gcTSiDF9hZNtB75dErHWeXdZx182GtlQmrayzjFuIxmcn7Q/ATWp1TeVNU2xPmX252327t"
    "TF6lmi+GWqnmW1XNd2zz+Qp1Yh3rgdZUYsUycILl9U81yxn1Pu13P60+Xu69dR0e9LRnC1"
    "oR3omlQeanXROjS9FGf8ZjNnpiPXiqOkLvIzwx5+LmAEVezH2cYfGjKzSGHIe3uC5glFrx"
    "Iz4+eq32CcFNazPz4CtQcBYgXa7z1Aq7vZYTfuLcE5Mv1iZ4oLb0kBdPAQeE8otnccwJNE"
    "XOgLyUaGu2lu/37mt+c8/0VOrXTqpfZY831b+GxFtUwPJBWFf/yknOAP8jDtshMiGhOKrT"
    "uxoTwoc67yP+t4lWdgMekcpbYVeOIir1U1eEYpX6qZXUT8pRpHVHkR0Z29ki9zR3WV7OeP"
    "IaGzG2o0DCV+xet5bVMnZv/+KN6nfJ4JHyjjgD8kdE+2JHRKOJ4KLoekx08YmmKYrDy25w"
    "gMogUwx9fw0y7txo2OtJStXrXen1HKeBfF379k+Q61wPK3mv/9CXyHshM7mmdFLV7NS1Tq"
    "gqnsQnvjrPvdcJlCXqOSJf0BvFIp/4oA2IfErC68pCOiyR8JAFcYFCv4CXCAh6d7bJ61Gl"
    "QyNHJYdGjrIHm0DGnimf3DPI6p1vkibssgzd1JH6+LiKI/XxcbEjtbiX8lTHbG7CZe3jZt"
    "N0PcS7/RNnp5jWwdivrnKJV8m0JFdabYFszBttIujnNqBiAroj3me1Ol6XeQeL5rBFlJoI"
    "krLejkhTHT3ltJuaZcGevd3Ovbi9/ZDo14urFPtz8+n64vLu4JXsUF4JOwWSvWFpc2pivS"
    "DAabWqO9HAluPL4l6qdfTeXDi0l9KbIbgak3h7Xgxa8J/wfJhSYyl8H8Sv0n13fevfTy2o"
    "0n1/jb1epPvO6ACrOO6LZYtp/gTP2UVruMn2LHVIkneHhGmYMbcNkC6846/6ipMCqAQgTB"
    "acs2pxxl3JBvsKVxRXNMNzFVtUIbZIm1G29sDqm61nVzFGe4pPSxPuOmyor1DFIzzWBCse"
    "9tJXuOYum2mMM5zBE9bE7Gfe3sdYc33FLTy2dZ2gP7Qxldbu4ZFRkZoFjRwrhgqNTOMUZD"
    "/bElbdVIGvgKo0plCFklaFMfCQXwMx3w2/j/BAfYY5126tnxNAeK6cR631FbCpSfWnghSX"
    "deG6EG31GqgWxlTvQNq0W1l8EhZ4mKXmabmzmZZeI9qONQocGWPPURFH++GPBsWQbWTaSV"
    "Iq005XTDtVDHqxiZrrYF92fFKasod+WydHFezmJ0eFdnNxS4UydDOUQTndtx66DpPMyJrI"
    "9lMESQOcXUe7Ftzgse0F/GfI06/gPCMZYnUOpclEkEwmwJfQwGTiX00mwgsKvL9m4MGmlj"
    "jo1xqKkkR2JB1yegNMl/J+NqvSBtov5Yb9xnPOFQ7uDOPR+Yo57hxzrLzdvkbmOFAQ1Z17"
    "STrFsam43/2AXjHL22SWY3u/QrUM1eRy2iXu+BzZWJ/lscb+nVK+GEZ1OhP/+7Xwk2seyl"
    "DMKS6QzXC9g8hjJD1UoW0k1FRMqhoI+9V7iO5Gzm/hT3RyVTg/fry9KRBzIpK0jIN1B/wN"
    "RDavPUS7BFwBRkKQCTA9uD7/NQ33uw+3F2kJRTRwkcd2bXMz++f/YuFE+g=="
)
