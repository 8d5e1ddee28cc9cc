from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE INDEX IF NOT EXISTS "idx_club_bans_user_id_9b2814" ON "club_bans" ("user_id", "club_id");
        CREATE INDEX IF NOT EXISTS "idx_memberships_user_id_b6bc74" ON "memberships" ("user_id", "club_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_memberships_user_id_b6bc74";
        DROP INDEX IF EXISTS "idx_club_bans_user_id_9b2814";"""


MODELS_STATE = (
    "eJztXVtT2zgU/iuePNEZtkNNElj2KdC0ZctlB9LdTkvHo9gi0WLLqS+BTJf/vpJ8v8ixEy"
    "c4Ri/ESDqy/B3p6JxPkv2rY5ga1O23A3WK4BwaEDudE+lXBwMDkou87H2pA2azKJMmOGCs"
    "s/IgKsgywNh2LKDSSu+BbkOSpEFbtdDMQSYmqdjVdZpoqqQgwpMoycXopwsVx5xAZwotkv"
    "H9B0lGWINP0A7+nT0o9wjqWqLVKmkYvTvLUZzFjKWeTYH1gZWlNxwrqqm7Bo6Xny2cqYlD"
    "AdIimjqBGFrAgVrsIWgb/WcOkrz2kgTHcmHYUC1K0OA9cHUn9tBjJUrrKMrV9Ui5HY4UpV"
    "MBJtXEFGJEAacYGOBJ0SGeOFPyb7/77N0nQsIrRW/49+Dm7NPgZq/ffUNvaBI9eUq88nNk"
    "lvXMqgAO8CphyEdQO8jRK2EdCtQDdpAQoR31s63D/e7goATepBQXcJZHEY8QjresAs4psR"
    "aifVgK7cMCtA89tKkduX+IdW+aMAbqwyOwNCWRE6kF0Ew7q5FTX+7D5xuoAw78vln9YkMr"
    "ZVp3TCPPQbcLUn1zxzA1ZZMHajbLkI10CsBgwh6J3pveyYftTHfHebMUSy+cnlRS4gXnJa"
    "Tl9Bc0OcdO/hj2yqf6Dsp2FH+Cae6kNKFN+O13WT48PJIPDvvHve7RUe/44JiUZe3NZh0V"
    "jO3T84/nV6PkqKYJxVMV+61gQYPyLTSd25+oRvCJ08lfbKLqdDZrFPOgHQ2/sn5r2PZPPY"
    "7o3uXgKwPbWPg5F9dXH4PiMQ2cXVyfpoCfIxuNkY6cRX73HmLXYNifk2YCrMKMDpI1bFEF"
    "M3esI7WiInypE8n7vcMzC81Jy0iCd9FZZUj0y4yIPn9A9NPjQbUghUsBTlYt70mOgwzIiU"
    "cSkil1aL7o2+BiF60ReUDtGuuLwF0oGDHnl8Pb0eDyr8SweT8YDWmOnBgyQepeWk1hJdI/"
    "56NPEv1X+nZ9NWTwmrYzsdgdo3Kjbx3aJuA6poLNRwVosTkzSA1Qy9X6eKFUne4zostn/l"
    "3Q9dYm/4wfn6eVrEo+mBZEE/wZLjJGku+276AieL46SbbAY+iuZrshQYA8N3QYBjdkgNyc"
    "nxG8y0RJY4DXjJGoU38KcIvwTpgLhOfIgTVgdM4qaitMJEL2GcXVURrOWxZjxwEyoDGGlj"
    "1FszVRugwraitUlmkaa4J0Q6poEzybZmuoAecQNr5tL+ZslGAeqZe3+c4qp/W6dEr/keJx"
    "vnvJ+14bvGzB6zSO1yHuil2NG48kWsA2JMPYXilmp1fA7PSyzI6IZPnotziSpYa3cgwbCY"
    "notaKJEyRCw9RAp//KCogJCehr4298P21N5iZYIdwxFZRmbiLjm+Bszga3Z4P3w06mcwsy"
    "bBmksdG8HFLBMtbFMobw8knGTcesPqHGCVsjum1J5Boj+JYGr50BlrzyEt2SJjmmBKQ913"
    "aBri+Cxa03Eq33Dwk5kgEWEnyaIQtKAGuSCrA0hpIF5+YD1N6mV8Hqr11shWjwbLpfEDKL"
    "DZLBHjK5zBYymb+DTE7Hyt6IsVeIlZOSNcTKPqwNmxmaHhoHmBTGxr4VXEHLSUmh5SZrWf"
    "BefDMqeC/Bewneqz1qEOTLNskXwRS0hCnwNpXkkAThbhM+PxBtahHHEV5fDC5OzsXicLnU"
    "srVcsGwtiwMJyyzt1g4kkAnLclahQBKC24matml4diRIKhUbQ6ytRHJFYi2MitukYBXMgJ"
    "p7pogfg8VEVgq/GsZl+Y6C/K571D0+7HdD/yBMKXILsuEtMW+Om7P1tNwhrUh6i1OSrU6h"
    "5upQqzg3RYInUnh5h3U0hycS/XuHiSmguewnvVZVxmeo/8SW7RoGsHJ6/J+311ecGSsSSd"
    "szpDrSf+RZ7R3s+QXIUiyKPYa0c5AyTrSCtMcgmFZ+pxdMq2Baa2dap0STlaGPCQnoV4ae"
    "nj+pDH1MqEWeleC1X3yKr5fXphZCMNrLII3ZUc7Z2rS9qAHTkmfWGmYoykIas48JSMn9pa"
    "svFxfljitb9nzd85M3pIoWdd2NHg2MnTXNWUFJnkTlL6Okjr6KI4JirSUzrk3eUsty2iWQ"
    "3SLp4vXoqoyL+UiaciKxnztMBwppmElSwkuSymomSdEdXpx1MVwav7vYQXrV4D8lKnbTNZ"
    "lQ/tdEeCWKJyEoGJ6mKF0wPA2cA8XhRcEzNEsF4vBicw8vvsyeOcZE5AR8AUPBD/XCV/ds"
    "KshjLUoHeSKoa2RQJ97nu9n3+do6cfXoIFRyKDFuH09Jbc+LONhsZ69tE4hY6uZDLQIhEQ"
    "gJb7wJruNSb7zMcso239rZTOJuu+spbO0pz7H216QKHOtg4atuxxoG6stdPhGedSM9693b"
    "p1pdJZ2JSRRxIrGfO/wIkEO3atIdqdH1HVbpI+psG2t42YxlE+FHvkY/0p1pK2o9KSm03h"
    "St56yd5b/+vHL4EJcS8YNYSNkN6AtCt9CZXDN2a9uXAPZTwVt84Iu1lFavpTDUc0K+QBv8"
    "kI8+kHj5wCuN8KAB8nZb8RdPQoEWvgKw1Gdk5YLPyMqZtZMZsO1HkwzuKbCnVXDOCDY5hl"
    "4RcbnXK/Oyh16P/7IHmpd62QOyZzpYKFVXBdNyLcS7V+6TEAVfhEiDPUZmFYz94i14k8YW"
    "PrbBLK0yhxYila4S6OdWILbGNie8z1kdFFxey1gdweW9Rq3zuLwMp1Fm9ZR9rF7xB/h6i6"
    "gtW6xO+iIA2wqybbcOkFr8pVHxKdZyn2Ktb8S9hk+yKvQs87pgtY2PTR5vE19mLQuVOH5d"
    "CA9Qp4iMOmP9TVWUHR5EtbUJsE2T7XHYOLx7CtliCl5Ja7XuHVjB8k7sPmIf1m6w9IB22Z"
    "UCxKSkCBCbEiCWoQViAzV32wGfZ81KtpDN7ndLcK79LpdypVlig0czN3iIrQi1bEXgWJMa"
    "kG2n05gGOGtHm7TlYwAtpE7znE8/p9DnBFGZxuz7eC3u5JpnCPmO4hxadu5XDvi+QkykhU"
    "7CRrYY0EFVxRvzircQ3Y0cNyZ3dHInKf7Lt2Mia718u2loF4Bb29u3KyxJ1T+ZPf8PAIdh"
    "/w=="
)
